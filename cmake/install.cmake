# Install rules and the exported config package:
# find_package(cfutures CONFIG REQUIRED [COMPONENTS mpi]).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS cfutures cfutures_core cfutures_thread cfutures_shm cfutures_remote cfutures_process
  EXPORT cfuturesTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# <cfutures/mpi.hpp> only with its library (the MPI component).
if(CFUTURES_WITH_MPI)
  install(DIRECTORY include/cfutures DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
else()
  install(DIRECTORY include/cfutures DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    PATTERN mpi.hpp EXCLUDE)
endif()
install(EXPORT cfuturesTargets
  NAMESPACE cfutures::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cfutures)

# The MPI component has an export set of its own, loaded by the config package only when a
# consumer asks for COMPONENTS mpi.
if(CFUTURES_WITH_MPI)
  install(TARGETS cfutures_mpi EXPORT cfuturesMpiTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT cfuturesMpiTargets
    NAMESPACE cfutures::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cfutures)
endif()

configure_package_config_file(cmake/cfuturesConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cfuturesConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cfutures)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cfuturesConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cfuturesConfig.cmake
  ${PROJECT_BINARY_DIR}/cfuturesConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cfutures)
