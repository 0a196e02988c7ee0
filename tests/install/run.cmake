# Installs the build tree into a fresh prefix, then configures, builds and runs the consumer
# project against it. Run by CTest: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=...
#   -DCXX_FLAGS=... -DLINKER_FLAGS=... -DBUILD_TYPE=... [-DWITH_MPI=ON] -P run.cmake
# With WITH_MPI, the consumer also finds COMPONENTS mpi and runs its MPI program.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
    -DCONSUMER_WITH_MPI=${WITH_MPI})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(WITH_MPI)
  # Open MPI's own allocations at exit are not the library's leaks (as for tests/mpi): under
  # AddressSanitizer, LeakSanitizer is off for the MPI program only.
  run(${CMAKE_COMMAND} -E env "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
      ${WORK_DIR}/build/consumer_mpi)
endif()
