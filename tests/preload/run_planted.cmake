# run_planted.cmake: runs planted.c under ZHEAP_ALLOCATOR=debug with
# ZHEAP_REPORT=REPORT_DIR/report.%p and ZHEAP_LEAK_EXITCODE=23, then checks the exit
# status (23: leaks), stdout (the program survived every planted bug), that the
# report file was named by pid, and the report itself (check_report.py).
file(REMOVE_RECURSE "${REPORT_DIR}")
file(MAKE_DIRECTORY "${REPORT_DIR}")
execute_process(COMMAND env LD_PRELOAD=${LIB} ZHEAP_ALLOCATOR=debug ZHEAP_DEBUG_FRAMES=12
                        ZHEAP_REPORT=${REPORT_DIR}/report.%p ZHEAP_LEAK_EXITCODE=23 ${PROGRAM}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 23)
  message(FATAL_ERROR "exit status ${rc}, expected 23 (leaks)\n${out}\n${err}")
endif()
if(NOT out MATCHES "planted: survived")
  message(FATAL_ERROR "the program did not survive its bugs: ${out}\n${err}")
endif()
file(GLOB reports "${REPORT_DIR}/report.*")
list(LENGTH reports n)
if(NOT n EQUAL 1 OR NOT reports MATCHES "report\\.[0-9]+$")
  message(FATAL_ERROR "expected one report.<pid>, found: ${reports}")
endif()
if(NOT PYTHON)
  message(STATUS "python3 missing: report contents not checked")
  return()
endif()
execute_process(COMMAND ${PYTHON} ${CHECK} ${reports} RESULT_VARIABLE rc OUTPUT_VARIABLE check)
message(STATUS "${check}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "report check failed")
endif()
