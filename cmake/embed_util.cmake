# What the build-time embedding scripts (embed_files.cmake, python.cmake) share: a file's
# content as a C++ raw string literal, and writing a generated file only when it changed
# (so what includes or compiles it is not rebuilt for nothing).

# Sets `out_var` to R"<delim>(content)<delim>"; stops the build when the content holds
# the closing delimiter (`what` names the file in the message).
function(lp_raw_string out_var content delim what)
  string(FIND "${content}" ")${delim}\"" _clash)
  if(NOT _clash EQUAL -1)
    message(FATAL_ERROR "${what} contains the raw-string delimiter )${delim}\"")
  endif()
  set(${out_var} "R\"${delim}(${content})${delim}\"" PARENT_SCOPE)
endfunction()

# Writes the arguments after `path`, concatenated, to `path` unless the file already holds
# exactly that. ARGV<n> keeps each argument as given (semicolons included).
function(lp_write_if_different path)
  set(_content "")
  math(EXPR _last "${ARGC} - 1")
  foreach(_i RANGE 1 ${_last})
    string(APPEND _content "${ARGV${_i}}")
  endforeach()
  file(WRITE ${path}.tmp "${_content}")
  file(COPY_FILE ${path}.tmp ${path} ONLY_IF_DIFFERENT)
  file(REMOVE ${path}.tmp)
endfunction()
