#ifndef KVFACTORY_MPI_SHIM_H
#define KVFACTORY_MPI_SHIM_H

#include <mpi.h>

// Open MPI defines these handles as macros that take the address of global
// objects, which Swift cannot import. Each function returns the handle.
MPI_Comm kvf_mpi_comm_world(void);
MPI_Comm kvf_mpi_comm_null(void);
MPI_Datatype kvf_mpi_byte(void);
MPI_Datatype kvf_mpi_int(void);
MPI_Datatype kvf_mpi_int64(void);
MPI_Datatype kvf_mpi_double(void);
MPI_Datatype kvf_mpi_float(void);
MPI_Op kvf_mpi_sum(void);
MPI_Op kvf_mpi_max(void);
MPI_Status *kvf_mpi_status_ignore(void);
MPI_Request kvf_mpi_request_null(void);
MPI_Message kvf_mpi_message_null(void);
MPI_Errhandler kvf_mpi_errors_return(void);
int kvf_mpi_any_source(void);
int kvf_mpi_any_tag(void);
int kvf_mpi_success(void);
int kvf_mpi_max_error_string(void);
int kvf_mpi_thread_single(void);
int kvf_mpi_thread_funneled(void);
int kvf_mpi_thread_serialized(void);
int kvf_mpi_thread_multiple(void);

#endif
