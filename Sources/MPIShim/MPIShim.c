#include "MPIShim.h"

MPI_Comm kvf_mpi_comm_world(void) { return MPI_COMM_WORLD; }
MPI_Comm kvf_mpi_comm_null(void) { return MPI_COMM_NULL; }
MPI_Datatype kvf_mpi_byte(void) { return MPI_BYTE; }
MPI_Datatype kvf_mpi_int(void) { return MPI_INT; }
MPI_Datatype kvf_mpi_int64(void) { return MPI_INT64_T; }
MPI_Datatype kvf_mpi_double(void) { return MPI_DOUBLE; }
MPI_Datatype kvf_mpi_float(void) { return MPI_FLOAT; }
MPI_Op kvf_mpi_sum(void) { return MPI_SUM; }
MPI_Op kvf_mpi_max(void) { return MPI_MAX; }
MPI_Status *kvf_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
MPI_Request kvf_mpi_request_null(void) { return MPI_REQUEST_NULL; }
MPI_Message kvf_mpi_message_null(void) { return MPI_MESSAGE_NULL; }
MPI_Errhandler kvf_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
int kvf_mpi_any_source(void) { return MPI_ANY_SOURCE; }
int kvf_mpi_any_tag(void) { return MPI_ANY_TAG; }
int kvf_mpi_success(void) { return MPI_SUCCESS; }
int kvf_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
int kvf_mpi_thread_single(void) { return MPI_THREAD_SINGLE; }
int kvf_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
int kvf_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
int kvf_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
