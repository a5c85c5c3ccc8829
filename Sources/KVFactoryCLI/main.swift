import CBLAS
import CZstd
import CZlib
import MPIShim
print("kvfactory: blas threads \(openblas_get_num_threads()), zstd \(ZSTD_versionNumber()), zlib \(String(cString: zlibVersion()))")
var major: Int32 = 0, minor: Int32 = 0
MPI_Get_version(&major, &minor)
print("mpi \(major).\(minor)")
