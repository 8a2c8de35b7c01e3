# check_doc_example.cmake - docs/cpp.md shows tests/cxx/example.cpp verbatim, so the
# documented example is the one the tests build and run.
#   cmake -DDOC=<docs/cpp.md> -DEXAMPLE=<tests/cxx/example.cpp> -P check_doc_example.cmake
cmake_minimum_required(VERSION 3.25)
file(READ "${DOC}" _doc)
file(READ "${EXAMPLE}" _example)
string(FIND "${_doc}" "```cpp\n${_example}```" _at)
if(_at EQUAL -1)
  message(FATAL_ERROR "${DOC} does not contain ${EXAMPLE} verbatim in a ```cpp block; "
                      "copy the file into the document again")
endif()
message(STATUS "${DOC} shows ${EXAMPLE}")
