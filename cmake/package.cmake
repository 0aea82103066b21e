# Install rules and the two Debian packages (`make package`, i.e. cpack -G DEB, writes
# build/packages/; docs/install.md):
#
#   loadpilot-agent_<version>_amd64.deb  loadpilot-agent alone (no Python), its systemd
#                                        unit loadpilot-agent@.service and
#                                        /etc/default/loadpilot-agent
#   loadpilot_<version>_amd64.deb        loadpilot (the CLI), loadpilot-coordinator,
#                                        loadpilot-target, docs and examples
#
# <version> is the project version, the one `loadpilot version` and
# `loadpilot-agent --version` print. Depends: is computed from the binaries by
# dpkg-shlibdeps; the only hand-written relations are what no ELF file can show (the
# Python module the CLI imports, the CA certificates https:// needs), each with its
# reason below. Included at the end of CMakeLists.txt.

# Script mode (cmake -P cmake/package.cmake, run by `make package` when
# LOADPILOT_PACKAGE_URL is set): the copy of scripts/install.sh published beside the
# packages at that URL, which installs them with no argument (curl -fsSL URL/install.sh | sh).
#   -DLP_INSTALLER_IN=scripts/install.sh -DLP_INSTALLER_OUT=FILE
#   -DLP_INSTALLER_URL=https://HOST/DIR -DLP_INSTALLER_VERSION=<version>
if(CMAKE_SCRIPT_MODE_FILE)
  foreach(_v LP_INSTALLER_IN LP_INSTALLER_OUT LP_INSTALLER_URL LP_INSTALLER_VERSION)
    if(NOT DEFINED ${_v} OR "${${_v}}" STREQUAL "")
      message(FATAL_ERROR "cmake/package.cmake in script mode needs -D${_v}=...")
    endif()
  endforeach()
  if(NOT LP_INSTALLER_URL MATCHES "^https?://[^ '\"$`]+$")
    message(FATAL_ERROR "LOADPILOT_PACKAGE_URL '${LP_INSTALLER_URL}' is not an http(s):// URL without spaces or quotes")
  endif()
  string(REGEX REPLACE "/+$" "" _url "${LP_INSTALLER_URL}")
  file(READ ${LP_INSTALLER_IN} _script)
  string(REPLACE "\nPUBLISHED_URL=\n" "\nPUBLISHED_URL='${_url}'\n" _script "${_script}")
  string(REPLACE "\nPUBLISHED_VERSION=\n" "\nPUBLISHED_VERSION='${LP_INSTALLER_VERSION}'\n" _script "${_script}")
  if(NOT _script MATCHES "\nPUBLISHED_URL='" OR NOT _script MATCHES "\nPUBLISHED_VERSION='")
    message(FATAL_ERROR "${LP_INSTALLER_IN} has no empty PUBLISHED_URL= and PUBLISHED_VERSION= lines to fill in")
  endif()
  file(WRITE ${LP_INSTALLER_OUT} "${_script}")
  file(CHMOD ${LP_INSTALLER_OUT} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
       WORLD_READ WORLD_EXECUTE)
  message(STATUS "${LP_INSTALLER_OUT}: installs from ${_url}/<package>_${LP_INSTALLER_VERSION}_amd64.deb")
  return()
endif()

# Instrumented builds (sanitizers, libFuzzer) are never packaged.
if(LOADPILOT_SANITIZE OR LOADPILOT_FUZZ OR NOT EXISTS ${CMAKE_SOURCE_DIR}/packaging)
  return()
endif()

include(GNUInstallDirs)
set(_lp_pkg ${CMAKE_SOURCE_DIR}/packaging)
set(_lp_gen ${CMAKE_BINARY_DIR}/generated/packaging)
set(LOADPILOT_PACKAGE_MAINTAINER "LoadPilot maintainers <maintainers@loadpilot.invalid>" CACHE STRING
    "Maintainer: of the .deb packages (set it to the address that takes bug reports when you publish them)")

# The changelog's newest entry must be this version: the package's changelog.gz would
# otherwise describe another release than the one installed.
file(STRINGS ${_lp_pkg}/changelog _lp_changelog_top LIMIT_COUNT 1)
if(NOT _lp_changelog_top MATCHES "^loadpilot \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "packaging/changelog starts with '${_lp_changelog_top}', but the project version is "
                      "${PROJECT_VERSION}: add an entry 'loadpilot (${PROJECT_VERSION}) ...' at its top")
endif()

# Files built for the packages: the changelog compressed as Debian wants it (gzip -9n: no
# name, no time stamp) and a manual page per binary made from its own --help (help2man),
# so the pages cannot drift from the flags.
set(_lp_package_files ${_lp_gen}/changelog.gz)
add_custom_command(
  OUTPUT ${_lp_gen}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_lp_gen}
  COMMAND sh -c "gzip -9nc '${_lp_pkg}/changelog' > '${_lp_gen}/changelog.gz'"
  DEPENDS ${_lp_pkg}/changelog
  COMMENT "Compressing packaging/changelog"
  VERBATIM)

find_program(LOADPILOT_HELP2MAN help2man)
set(_lp_man_pages "")
function(lp_man_page target summary)
  if(NOT TARGET ${target} OR NOT LOADPILOT_HELP2MAN)
    return()
  endif()
  set(_page ${_lp_gen}/man/${target}.1)
  add_custom_command(
    OUTPUT ${_page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_lp_gen}/man
    COMMAND ${LOADPILOT_HELP2MAN} --no-info --no-discard-stderr --section 1 --name ${summary}
            --version-string ${PROJECT_VERSION} --include ${_lp_pkg}/man/see-also.h2m
            --output ${_page} $<TARGET_FILE:${target}>
    COMMAND sh -c "gzip -9nf '${_page}'"
    DEPENDS ${target} ${_lp_pkg}/man/see-also.h2m
    COMMENT "Manual page ${target}(1) from its --help"
    VERBATIM)
  set(_lp_man_pages ${_lp_man_pages} ${_page}.gz PARENT_SCOPE)
endfunction()
lp_man_page(loadpilot-agent "one load generator of a distributed LoadPilot run")
lp_man_page(loadpilot "load tests written as Python classes, fired by a C++ engine")
lp_man_page(loadpilot-coordinator "the LoadPilot engine as a process: a plan on stdin, metrics as ndjson")
lp_man_page(loadpilot-target "demo and test HTTP server for LoadPilot")
add_custom_target(lp_package_files ALL DEPENDS ${_lp_package_files} ${_lp_man_pages})
if(NOT LOADPILOT_HELP2MAN)
  message(STATUS "help2man not found: the packages get no manual pages (scripts/install-deps.sh installs it)")
endif()

# --- what goes where ---------------------------------------------------------------
# Paths are those of Debian 12: binaries in /usr/bin, the unit in /lib/systemd/system
# (bookworm's place for packaged units), settings in /etc/default.
install(TARGETS loadpilot-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
install(FILES ${_lp_pkg}/loadpilot-agent@.service DESTINATION /lib/systemd/system COMPONENT agent)
install(FILES ${_lp_pkg}/agent/loadpilot-agent.default DESTINATION /etc/default RENAME loadpilot-agent
        PERMISSIONS OWNER_READ OWNER_WRITE COMPONENT agent)
install(FILES ${_lp_pkg}/copyright ${_lp_gen}/changelog.gz ${CMAKE_SOURCE_DIR}/docs/install.md
              ${CMAKE_SOURCE_DIR}/docs/distributed.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/loadpilot-agent COMPONENT agent)
install(FILES ${_lp_pkg}/lintian/loadpilot-agent DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
        COMPONENT agent)

foreach(_t loadpilot loadpilot-coordinator loadpilot-target)
  if(TARGET ${_t})
    install(TARGETS ${_t} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
  endif()
endforeach()
file(GLOB _lp_docs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${_lp_pkg}/copyright ${_lp_gen}/changelog.gz ${CMAKE_SOURCE_DIR}/README.md ${_lp_docs}
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/loadpilot COMPONENT cli)
# Examples beside the docs' tree, not in it: container images made like
# debian:bookworm-slim drop /usr/share/doc/*, and the examples are what a first run uses.
file(GLOB _lp_examples CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*)
install(FILES ${_lp_examples} DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/loadpilot/examples COMPONENT cli)
install(FILES ${_lp_pkg}/lintian/loadpilot DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
        RENAME loadpilot COMPONENT cli)

# What dh_strip does beyond CPack's plain `strip`: the compiler's .comment and the .note
# sections go too (`cmake --install --strip`, and CPack with CPACK_STRIP_FILES, set
# CMAKE_INSTALL_DO_STRIP).
foreach(_t loadpilot-agent loadpilot loadpilot-coordinator loadpilot-target)
  if(TARGET ${_t})
    set(_component cli)
    if(_t STREQUAL "loadpilot-agent")
      set(_component agent)
    endif()
    # Full RELRO: the dynamic symbols are bound at start-up (a few ms), so the GOT can be
    # read-only for the whole run.
    target_link_options(${_t} PRIVATE -Wl,-z,now)
    install(CODE "if(CMAKE_INSTALL_DO_STRIP)
        execute_process(COMMAND \"${CMAKE_STRIP}\" --remove-section=.comment --remove-section=.note
                                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/${_t}\"
                        COMMAND_ERROR_IS_FATAL ANY)
      endif()" COMPONENT ${_component})
  endif()
endforeach()

foreach(_page ${_lp_man_pages})
  get_filename_component(_name ${_page} NAME)
  if(_name STREQUAL "loadpilot-agent.1.gz")
    install(FILES ${_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT agent)
  else()
    install(FILES ${_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT cli)
  endif()
endforeach()

# --- the packages -------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME loadpilot)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${LOADPILOT_PACKAGE_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent cli)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)          # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)           # Depends: from dpkg-shlibdeps on the binaries
set(CPACK_DEBIAN_PACKAGE_SECTION web)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME loadpilot-agent)
string(CONCAT CPACK_COMPONENT_AGENT_DESCRIPTION
    "LoadPilot agent: one load generator of a distributed load test\n"
    "loadpilot-agent connects to a LoadPilot coordinator over NATS, waits for its\n"
    "share of a test plan, fires that share of the HTTP load at the exact rate asked\n"
    "for, reports cumulative metrics every second, and waits for the next plan.\n"
    "It needs no Python. Start one with\n"
    "  loadpilot-agent --coordinator HOST:4222 --agent-id agent-0\n"
    "or as a service (set COORDINATOR in /etc/default/loadpilot-agent first):\n"
    "  systemctl enable --now loadpilot-agent@agent-0\n"
    "The service comes back after a failure and at every boot.")
# https:// targets and tls:// NATS verify certificates against the system's CAs, which
# are data, not a library dpkg-shlibdeps could see.
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS ca-certificates)
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${_lp_pkg}/agent/conffiles ${_lp_pkg}/agent/postinst ${_lp_pkg}/agent/prerm ${_lp_pkg}/agent/postrm)

set(CPACK_DEBIAN_CLI_PACKAGE_NAME loadpilot)
string(CONCAT CPACK_COMPONENT_CLI_DESCRIPTION
    "load-testing tool: scenarios as Python classes, fired by a C++ engine\n"
    "LoadPilot runs HTTP load tests written as plain Python classes at exactly the\n"
    "rate asked for (open model: latency is measured from when each request was\n"
    "due). It shows a live dashboard, checks thresholds (exit 1 on a breach) and\n"
    "writes an HTML report, JSON results and JUnit XML.\n"
    "This package has the loadpilot command, loadpilot-coordinator (the engine as\n"
    "a process, and the coordinator of distributed runs), loadpilot-target (a\n"
    "demo target server), the documentation and examples. Agents on other machines\n"
    "need only the loadpilot-agent package.")
# Python mode drives virtual users as greenlets: the embedded interpreter imports the
# greenlet module, which no ELF dependency shows.
set(CPACK_DEBIAN_CLI_PACKAGE_DEPENDS python3-greenlet)
set(CPACK_DEBIAN_CLI_PACKAGE_RECOMMENDS ca-certificates)

include(CPack)

# The fast checks (seconds; ctest -L package): install.sh's refusals and dry runs, and the
# packages as cpack builds them from this build (names, versions, Depends, contents,
# lintian). Installing them into a fresh Debian 12 root is `make test-package`.
foreach(_t test_install_sh test_packages)
  add_test(NAME package.${_t}
           COMMAND ${LOADPILOT_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/package/${_t}.py)
  set_tests_properties(package.${_t} PROPERTIES
    LABELS package TIMEOUT 300 RESOURCE_GROUPS cpus:1
    ENVIRONMENT "LOADPILOT_BIN=${CMAKE_BINARY_DIR}/bin;LOADPILOT_SRC=${CMAKE_SOURCE_DIR}")
endforeach()
