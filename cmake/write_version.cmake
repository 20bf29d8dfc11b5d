# Writes OUT from the template IN with the source tree's commit, at every
# build (cmake -P; see CMakeLists.txt). configure_file rewrites OUT only when
# its text changes, so an unchanged commit recompiles nothing.
# Inputs (-D): SRC (source tree), IN, OUT, PROJECT_VERSION.
set(CANOPY_GIT_COMMIT "unknown")
set(CANOPY_GIT_DIRTY 0)
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${SRC} OUTPUT_VARIABLE commit RESULT_VARIABLE rc
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(rc EQUAL 0 AND commit)
  set(CANOPY_GIT_COMMIT "${commit}")
  # Tracked files that differ from the commit (untracked files are ignored).
  execute_process(COMMAND git diff --quiet HEAD --
    WORKING_DIRECTORY ${SRC} RESULT_VARIABLE diff_rc ERROR_QUIET)
  if(diff_rc EQUAL 1)
    set(CANOPY_GIT_DIRTY 1)
  endif()
endif()
configure_file(${IN} ${OUT} @ONLY)
