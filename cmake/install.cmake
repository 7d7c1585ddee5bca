# What `cmake --install` puts under the prefix: each layer's public headers
# (include/glue/<layer>/), its static library, a CMake package (find_package(glue)
# gives glue::base, glue::network, glue::security, ... glue::endpoint) and a pkg-config file, glue.pc.
# The coordination services and the MQTT bridge are components of their own, since
# they need what the layers do not (nlohmann_json; libmosquitto):
# find_package(glue COMPONENTS services bridge) gives glue::services and glue::bridge,
# and glue-services.pc and glue-bridge.pc say what linking them takes.
# Test and benchmark support (the *_testing libraries, glue_wire_proto) stays in the
# build tree.
include(CMakePackageConfigHelpers)

# From the top of the stack down: the link order of glue.pc.
set(GLUE_INSTALLED_LAYERS
    endpoint model topics fragmentation transport discovery serialization security network
    base)
set(GLUE_INSTALLED_TARGETS "")
set(GLUE_PC_LIBS "")
foreach(layer IN LISTS GLUE_INSTALLED_LAYERS)
  set_target_properties(glue_${layer} PROPERTIES EXPORT_NAME ${layer})
  add_library(glue::${layer} ALIAS glue_${layer})
  list(APPEND GLUE_INSTALLED_TARGETS glue_${layer})
  string(APPEND GLUE_PC_LIBS " -lglue_${layer}")
  # The whole folder, so that a header added later is installed without an edit here.
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

install(TARGETS ${GLUE_INSTALLED_TARGETS} EXPORT glueTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(GLUE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/glue)
install(EXPORT glueTargets NAMESPACE glue:: DESTINATION ${GLUE_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/glueConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/glueConfig.cmake
                              INSTALL_DESTINATION ${GLUE_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/glueConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/glueConfig.cmake
              ${PROJECT_BINARY_DIR}/glueConfigVersion.cmake
        DESTINATION ${GLUE_CMAKE_DIR})

# glue.pc finds the prefix from its own place (${pcfiledir}), so that it stays right
# when `cmake --install --prefix` puts it elsewhere than CMAKE_INSTALL_PREFIX says.
set(GLUE_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH GLUE_PC_TO_PREFIX ${CMAKE_INSTALL_PREFIX}/${GLUE_PC_DIR}
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" GLUE_PC_TO_PREFIX "${GLUE_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/glue.pc.in ${PROJECT_BINARY_DIR}/glue.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/glue.pc DESTINATION ${GLUE_PC_DIR})

# The components: their headers, library, targets (glue_<component>Targets.cmake,
# which glueConfig.cmake includes when asked for the component) and .pc file.
foreach(component services bridge)
  set_target_properties(glue_${component} PROPERTIES EXPORT_NAME ${component})
  add_library(glue::${component} ALIAS glue_${component})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${component}/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS glue_${component} EXPORT glue_${component}Targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT glue_${component}Targets NAMESPACE glue:: DESTINATION ${GLUE_CMAKE_DIR})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/glue-${component}.pc.in
                 ${PROJECT_BINARY_DIR}/glue-${component}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/glue-${component}.pc DESTINATION ${GLUE_PC_DIR})
endforeach()
