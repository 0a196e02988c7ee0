# The optional MPI component: the layer cfutures_mpi (cfutures::mpi), on the remote core,
# built when CFUTURES_WITH_MPI is on — by default whenever CMake's FindMPI finds MPI for
# C++. No other target depends on MPI.
set(MPI_CXX_SKIP_MPICXX ON)  # the C API only: no deprecated C++ bindings (libmpi_cxx)
find_package(MPI QUIET COMPONENTS CXX)
option(CFUTURES_WITH_MPI "Build the MPI executor (cfutures::mpi)" ${MPI_CXX_FOUND})

if(CFUTURES_WITH_MPI)
  find_package(MPI REQUIRED COMPONENTS CXX)
  cfutures_layer(mpi cfutures_remote MPI::MPI_CXX)
  # What a program of cfutures::mpi also uses: the rest of the library.
  target_link_libraries(cfutures_mpi INTERFACE cfutures)
  # How the tests, examples and benchmarks launch a job: mpiexec may run as root here (CI),
  # and 3 ranks oversubscribe a 2-core machine.
  set(CFUTURES_MPIEXEC ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe
      CACHE STRING "mpiexec and its options for the MPI tests")
endif()
