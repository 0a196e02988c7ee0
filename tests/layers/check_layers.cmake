# The layers, checked (ctest -R layers): every header under include/ and every file under
# src/ belongs to a layer, and its includes, followed transitively by the compiler (-M),
# reach only its own layer and the layers below it. The tree (docs/architecture.md):
#
#   core ← executor ← thread
#                   ← shm ← remote ← process
#                                  ← mpi
#
# Files of the core, executor and thread layers never reach cereal: a program of futures
# and the thread pool compiles without it.
#   cmake -DSOURCE_DIR=<repo> -DCXX=<compiler> -P check_layers.cmake
cmake_minimum_required(VERSION 3.25)

set(below_core "core")
set(below_executor "core;executor")
set(below_thread "core;executor;thread")
set(below_shm "core;executor;shm")
set(below_remote "core;executor;shm;remote")
set(below_process "core;executor;shm;remote;process")
set(below_mpi "core;executor;shm;remote;mpi")
set(below_umbrella "core;executor;thread;shm;remote;process;umbrella")

# Headers under include/cfutures/, by name; files under src/ belong to their directory.
set(layer_core future promise any_future errors callback_errors wait compose
    detail/deadline detail/futex detail/multi_waiter detail/ref_ptr detail/shared_state
    detail/executor_hooks detail/combinators detail/composed_state detail/coroutine detail/then
    detail/trampoline progress detail/progress_bar detail/state_set
    detail/bulk_allocator stats trace detail/trace_span detail/huge_pages)
set(layer_executor executor dataflow detail/map_range detail/executor_map detail/dataflow
    detail/completion_order)
set(layer_thread thread_pool_executor detail/task)
set(layer_shm shared_buffer detail/shared_region)
set(layer_remote serialization detail/direct_read detail/payload detail/one_or_many detail/remote_call
    detail/remote_executor)
set(layer_process process_pool_executor)
set(layer_mpi mpi mpi_pool_executor)
set(layer_umbrella cfutures)

function(layer_of path out)
  set(result "")
  if(path MATCHES "^src/([a-z]+)/")
    set(result ${CMAKE_MATCH_1})
  elseif(path MATCHES "^include/cfutures/(.+)\\.hpp$")
    set(name ${CMAKE_MATCH_1})
    foreach(layer core executor thread shm remote process mpi umbrella)
      if(name IN_LIST layer_${layer})
        set(result ${layer})
      endif()
    endforeach()
  endif()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE files RELATIVE ${SOURCE_DIR}
  ${SOURCE_DIR}/include/cfutures/*.hpp ${SOURCE_DIR}/src/*.hpp ${SOURCE_DIR}/src/*.cpp)
list(SORT files)
set(failures "")
foreach(file IN LISTS files)
  layer_of(${file} layer)
  if(layer STREQUAL "")
    list(APPEND failures "${file}: in no layer (add it to tests/layers/check_layers.cmake)")
    continue()
  endif()
  execute_process(
    COMMAND ${CXX} -std=c++20 -M -MG -I${SOURCE_DIR}/include -I${SOURCE_DIR}/src
            -x c++ ${SOURCE_DIR}/${file}
    OUTPUT_VARIABLE deps ERROR_VARIABLE errors RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(APPEND failures "${file}: the compiler could not list its includes: ${errors}")
    continue()
  endif()
  string(REPLACE "\\\n" " " deps "${deps}")
  string(REGEX REPLACE "^[^:]*:" "" deps "${deps}")
  string(REGEX REPLACE "[ \t\n]+" ";" deps "${deps}")
  set(reported_cereal FALSE)
  foreach(dep IN LISTS deps)
    if(dep STREQUAL "")
      continue()
    endif()
    if(dep MATCHES "/cereal/" AND layer MATCHES "^(core|executor|thread|shm)$" AND NOT reported_cereal)
      list(APPEND failures "${file} (${layer}) reaches cereal: ${dep}")
      set(reported_cereal TRUE)
    endif()
    get_filename_component(abs ${dep} ABSOLUTE BASE_DIR ${SOURCE_DIR})
    file(RELATIVE_PATH rel ${SOURCE_DIR} ${abs})
    if(NOT rel MATCHES "^(include|src)/")
      continue()
    endif()
    layer_of(${rel} dep_layer)
    if(dep_layer STREQUAL "")
      list(APPEND failures "${file} includes ${rel}, which is in no layer")
    elseif(NOT dep_layer IN_LIST below_${layer})
      list(APPEND failures "${file} (${layer}) includes ${rel} (${dep_layer})")
    endif()
  endforeach()
endforeach()

list(LENGTH files checked)
if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "layering violations:\n  ${text}")
endif()
message(STATUS "layers: ${checked} files checked, every include within its layer or below")
