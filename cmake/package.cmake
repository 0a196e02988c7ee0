# The pkg-config file (cfutures.pc) and the Debian package: `cpack -G DEB` in a build tree
# writes libcfutures-dev_<version>_<arch>.deb — the headers, the static libraries, the CMake
# config package (find_package(cfutures)) and cfutures.pc (pkg-config --cflags --libs
# cfutures). scripts/package.sh builds it without the MPI component, so the package needs no
# MPI (a build with CFUTURES_WITH_MPI=ON would add cfutures::mpi and <cfutures/mpi.hpp>).
configure_file(cmake/cfutures.pc.in ${PROJECT_BINARY_DIR}/cfutures.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cfutures.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(CPACK_PACKAGE_NAME libcfutures-dev)
set(CPACK_PACKAGE_VENDOR cfutures)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "cfutures developers <cfutures@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# cereal is in the headers; libdw1 is loaded at run time to name stack frames (not linked);
# pkg-config reads cfutures.pc.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcereal-dev, libdw1, pkg-config")
if(CFUTURES_WITH_MPI)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenmpi-dev")
endif()
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
include(CPack)
