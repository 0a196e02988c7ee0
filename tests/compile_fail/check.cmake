# cmake -DCOMPILER=... -DSOURCE=... -DINCLUDES=a|b -DMODE=fail|pass [-DEXPECT0=re ...]
#       -P check.cmake
# Compiles SOURCE with -fsyntax-only -std=c++20. MODE=fail: passes only if the compilation
# fails and its diagnostics match every EXPECT<n> regex. MODE=pass: passes only if it
# compiles cleanly.
foreach(var COMPILER SOURCE INCLUDES MODE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check.cmake: ${var} is not set")
  endif()
endforeach()

string(REPLACE "|" ";" include_list "${INCLUDES}")
set(include_flags)
foreach(dir IN LISTS include_list)
  list(APPEND include_flags "-I${dir}")
endforeach()

execute_process(
  COMMAND "${COMPILER}" -std=c++20 -fsyntax-only ${include_flags} "${SOURCE}"
  RESULT_VARIABLE result
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)

if(MODE STREQUAL "pass")
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${SOURCE} must compile but did not (${result}):\n${out}")
  endif()
  message(STATUS "compiles, as it must")
  return()
endif()

if(result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected")
endif()
set(checked 0)
set(missing)
foreach(i RANGE 0 9)
  if(DEFINED EXPECT${i})
    math(EXPR checked "${checked} + 1")
    string(REGEX MATCH "${EXPECT${i}}" found "${out}")
    if(NOT found)
      list(APPEND missing "${EXPECT${i}}")
    endif()
  endif()
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "check.cmake: no EXPECT<n> regex given for ${SOURCE}")
endif()
if(missing)
  list(JOIN missing "\n  " missing_text)
  message(FATAL_ERROR "${SOURCE} was rejected, but its diagnostics do not match:\n  "
                      "${missing_text}\nDiagnostics:\n${out}")
endif()
message(STATUS "rejected, with the expected diagnostics (${checked} regexes)")
