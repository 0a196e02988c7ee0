# The optional MPI component: target cfutures_mpi (cfutures::mpi), built when
# CFUTURES_WITH_MPI is on — by default whenever CMake's FindMPI finds MPI for C++. The core
# target cfutures never depends on MPI.
set(MPI_CXX_SKIP_MPICXX ON)  # the C API only: no deprecated C++ bindings (libmpi_cxx)
find_package(MPI QUIET COMPONENTS CXX)
option(CFUTURES_WITH_MPI "Build the MPI executor (cfutures::mpi)" ${MPI_CXX_FOUND})

if(CFUTURES_WITH_MPI)
  find_package(MPI REQUIRED COMPONENTS CXX)
  add_library(cfutures_mpi
    src/mpi/comm_core.cpp
    src/mpi/comm_executor.cpp
    src/mpi/messages.cpp
    src/mpi/mpi_environment.cpp
    src/mpi/rank_server.cpp
  )
  add_library(cfutures::mpi ALIAS cfutures_mpi)
  target_link_libraries(cfutures_mpi PUBLIC cfutures MPI::MPI_CXX)
  set_target_properties(cfutures_mpi PROPERTIES
    EXPORT_NAME mpi
    POSITION_INDEPENDENT_CODE ON
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR})
  if(PROJECT_IS_TOP_LEVEL)
    target_compile_options(cfutures_mpi PRIVATE -Wall -Wextra -Wpedantic)
  endif()
  # How the tests, examples and benchmarks launch a job: mpiexec may run as root here (CI),
  # and 3 ranks oversubscribe a 2-core machine.
  set(CFUTURES_MPIEXEC ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe
      CACHE STRING "mpiexec and its options for the MPI tests")
endif()
