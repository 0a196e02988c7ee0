# The API reference: `cmake --build <dir> --target docs` writes HTML from the public headers'
# contracts to <dir>/docs/html/index.html (Doxygen, Debian's `doxygen`). The headers keep
# their plain `//` comments; docs/doxygen_filter.py turns them into Doxygen's. A warning in a
# public header fails the target (WARN_AS_ERROR), so CI catches a broken reference.
find_package(Doxygen)
if(NOT DOXYGEN_FOUND)
  message(STATUS "cfutures: doxygen not found, no `docs` target (apt-get install doxygen)")
  return()
endif()
find_package(Python3 COMPONENTS Interpreter REQUIRED)

set(DOXYGEN_PROJECT_NAME cfutures)
set(DOXYGEN_PROJECT_NUMBER ${PROJECT_VERSION})
set(DOXYGEN_PROJECT_BRIEF "Python's concurrent.futures for C++20")
set(DOXYGEN_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
set(DOXYGEN_GENERATE_HTML YES)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_EXTRACT_ALL YES)
set(DOXYGEN_EXCLUDE_PATTERNS */detail/*)
set(DOXYGEN_EXCLUDE_SYMBOLS detail "cfutures::detail::*" "std::hash*" std)
set(DOXYGEN_FILE_PATTERNS *.hpp)
set(DOXYGEN_FULL_PATH_NAMES YES)
set(DOXYGEN_STRIP_FROM_PATH ${PROJECT_SOURCE_DIR}/include)
set(DOXYGEN_STRIP_FROM_INC_PATH ${PROJECT_SOURCE_DIR}/include)
set(DOXYGEN_INPUT_FILTER "${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/docs/doxygen_filter.py")
set(DOXYGEN_FILTER_SOURCE_FILES YES)
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_PREDEFINED "CFUTURES_DOXYGEN")
set(DOXYGEN_QUIET YES)
set(DOXYGEN_WARN_IF_UNDOCUMENTED NO)
set(DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)
set(DOXYGEN_WARN_LOGFILE ${PROJECT_BINARY_DIR}/docs/warnings.log)
set(DOXYGEN_USE_MDFILE_AS_MAINPAGE ${PROJECT_SOURCE_DIR}/docs/api-reference.md)

doxygen_add_docs(docs
  ${PROJECT_SOURCE_DIR}/include/cfutures
  ${PROJECT_SOURCE_DIR}/docs/api-reference.md
  COMMENT "API reference: ${PROJECT_BINARY_DIR}/docs/html/index.html")
