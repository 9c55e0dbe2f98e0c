# socklab_add_lab(): the one function that turns a line of labs/manifest.txt into targets.
#
# For lab NN in folder labs/NN-name/ it makes
#   socklab_labNN   a static library from the student-owned files listed in the manifest,
#                   taken from labs/NN-name/src/ or solutions/NN-name/ (see SOCKLAB_IMPL),
#                   with labs/NN-name/include/ public, linked to every lab before it;
#   one program per labs/NN-name/app/*.cpp, named after the file (lab01-endpoint.cpp ->
#                   build/bin/lab01-endpoint);
#   labNN_tests     the Catch2 tests in labs/NN-name/tests/*.cpp, each TEST_CASE its own CTest
#                   test named "labNN/<test case>", labelled labNN, with a TIMEOUT.
#
# SOCKLAB_IMPL_NN (empty by default) overrides SOCKLAB_IMPL for one lab, so the grader can build
# lab 03 from a submission on top of the reference labs 01 and 02.

set(SOCKLAB_MANIFEST ${PROJECT_SOURCE_DIR}/labs/manifest.txt)
set(SOCKLAB_SOLUTIONS_DIR ${PROJECT_SOURCE_DIR}/solutions CACHE PATH
    "Where SOCKLAB_IMPL=solution takes the reference code from (one folder per lab)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${SOCKLAB_MANIFEST})

# Grade mode, set by the grader (socklab-grade): the student files to grade, laid out like
# solutions/ (one folder per lab). Every lab's programs and tests are then built from them, and
# socklab_labNN is the reference code the labs above build on.
set(SOCKLAB_GRADE_DIR "" CACHE PATH "Grade mode: build the labs' programs and tests from the files in this folder")
option(SOCKLAB_GRADE_CUMULATIVE "Grade mode: build lab N on the graded code of the labs below it" OFF)
set(SOCKLAB_GRADE_OBJECTS "${CMAKE_BINARY_DIR}/graded" CACHE PATH
    "Grade mode: where the grader puts labNN/libgraded.a, the graded code it compiled in its sandbox")

# Seconds a single test case may run before CTest kills it (the tests' own deadlines are shorter).
set(SOCKLAB_TEST_TIMEOUT 20 CACHE STRING "CTest TIMEOUT of every lab test case, in seconds")
# A test calls socklab::testkit::skip() to exit with this code when the machine cannot run it.
set(SOCKLAB_SKIP_RETURN_CODE 77)

function(socklab_add_lab id folder)
  set(files ${ARGN})
  set(lab_dir ${PROJECT_SOURCE_DIR}/labs/${folder})

  set(impl ${SOCKLAB_IMPL})
  set(SOCKLAB_IMPL_${id} "" CACHE STRING "Override SOCKLAB_IMPL for lab ${id} (student|solution)")
  if(SOCKLAB_IMPL_${id})
    set(impl ${SOCKLAB_IMPL_${id}})
  endif()
  if(SOCKLAB_GRADE_DIR)
    # Grade mode: socklab_labNN is the reference, the graded code is apart. A handout has no
    # reference code and grades cumulatively: there socklab_labNN is the skeleton, which only the
    # listing of the tests' names links (the names are the same).
    set(impl solution)
    if(SOCKLAB_GRADE_CUMULATIVE AND NOT IS_DIRECTORY ${SOCKLAB_SOLUTIONS_DIR}/${folder})
      set(impl student)
    endif()
  endif()
  if(impl STREQUAL "solution")
    set(src_dir ${SOCKLAB_SOLUTIONS_DIR}/${folder})
    if(NOT IS_DIRECTORY ${src_dir})
      message(FATAL_ERROR
        "SOCKLAB_IMPL=solution builds lab ${id} from ${src_dir}, but that folder does not exist.\n"
        "The reference solutions are not part of a student handout: configure with "
        "-DSOCKLAB_IMPL=student (cmake --preset student).")
    endif()
  elseif(impl STREQUAL "student")
    set(src_dir ${lab_dir}/src)
  else()
    message(FATAL_ERROR "SOCKLAB_IMPL_${id} is '${impl}'; it must be 'student' or 'solution'.")
  endif()

  set(sources "")
  foreach(file IN LISTS files)
    if(NOT EXISTS ${src_dir}/${file})
      message(FATAL_ERROR "labs/manifest.txt lists ${file} for lab ${id}, but ${src_dir}/${file} is missing.")
    endif()
    list(APPEND sources ${src_dir}/${file})
  endforeach()

  set(lib socklab_lab${id})
  add_library(${lib} STATIC ${sources})
  target_include_directories(${lib} PUBLIC ${lab_dir}/include)
  target_link_libraries(${lib} PUBLIC socklab_common ${SOCKLAB_LAB_LIBRARIES})
  # Grade mode: the lab's programs and tests use the graded code, built on the reference code
  # of the labs below (or on their graded code, with SOCKLAB_GRADE_CUMULATIVE).
  if(SOCKLAB_GRADE_DIR)
    set(graded_sources "")
    foreach(file IN LISTS files)
      list(APPEND graded_sources ${SOCKLAB_GRADE_DIR}/${folder}/${file})
    endforeach()
    set(below ${SOCKLAB_LAB_LIBRARIES})
    if(SOCKLAB_GRADE_CUMULATIVE)
      set(below ${SOCKLAB_GRADED_LIBRARIES})
    endif()
    # The graded code is compiled by the grader inside its sandbox (tools/sandbox/), with the
    # commands that ${lib}_graded_objects puts in compile_commands.json (this build never
    # compiles it: EXCLUDE_FROM_ALL), into SOCKLAB_GRADE_OBJECTS/labNN/libgraded.a, which the
    # lab's programs and tests link here.
    add_library(${lib}_graded_objects OBJECT EXCLUDE_FROM_ALL ${graded_sources})
    target_include_directories(${lib}_graded_objects PRIVATE ${lab_dir}/include)
    target_link_libraries(${lib}_graded_objects PRIVATE socklab_common ${below})
    add_library(${lib}_graded STATIC IMPORTED GLOBAL)
    set_target_properties(${lib}_graded PROPERTIES
      IMPORTED_LOCATION ${SOCKLAB_GRADE_OBJECTS}/lab${id}/libgraded.a
      INTERFACE_INCLUDE_DIRECTORIES ${lab_dir}/include)
    target_link_libraries(${lib}_graded INTERFACE socklab_common ${below})
    set(SOCKLAB_GRADED_LIBRARIES ${SOCKLAB_GRADED_LIBRARIES} ${lib}_graded PARENT_SCOPE)
    set(SOCKLAB_LAB_LIBRARIES ${SOCKLAB_LAB_LIBRARIES} ${lib} PARENT_SCOPE)
    set(lib ${lib}_graded)
  else()
    set(SOCKLAB_LAB_LIBRARIES ${SOCKLAB_LAB_LIBRARIES} ${lib} PARENT_SCOPE)
  endif()

  # The lab's programs (given code).
  file(GLOB apps CONFIGURE_DEPENDS ${lab_dir}/app/*.cpp)
  set(programs "")
  foreach(app IN LISTS apps)
    get_filename_component(name ${app} NAME_WE)
    add_executable(${name} ${app})
    target_link_libraries(${name} PRIVATE ${lib})
    list(APPEND programs ${name})
    if(SOCKLAB_GRADE_DIR)
      # Built by the grader once the graded code is compiled, not by a plain build of the tree.
      set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL ON)
    endif()
  endforeach()

  # The lab's tests (given code).
  file(GLOB tests CONFIGURE_DEPENDS ${lab_dir}/tests/*.cpp)
  if(tests AND SOCKLAB_GRADE_DIR)
    # Grade mode: the tests compiled once, linked twice: labNN_tests with the graded code, and
    # labNN_tests_list with the reference code, from which the grader takes the tests' names (the
    # graded code runs only in the other, so it cannot add, hide or rename a test). No
    # catch_discover_tests: it would run the graded code during the build.
    set(test_exe lab${id}_tests)
    add_library(${test_exe}_objects OBJECT ${tests})
    target_link_libraries(${test_exe}_objects PRIVATE socklab_lab${id} socklab_catch_main socklab_testkit_lab_types)
    target_compile_definitions(${test_exe}_objects PRIVATE
      SOCKLAB_LAB_DIR="${lab_dir}" SOCKLAB_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      SOCKLAB_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    add_executable(${test_exe} EXCLUDE_FROM_ALL $<TARGET_OBJECTS:${test_exe}_objects>)
    target_link_libraries(${test_exe} PRIVATE ${lib} socklab_catch_main)
    add_executable(${test_exe}_list $<TARGET_OBJECTS:${test_exe}_objects>)
    target_link_libraries(${test_exe}_list PRIVATE socklab_lab${id} socklab_catch_main)
  elseif(tests)
    set(test_exe lab${id}_tests)
    add_executable(${test_exe} ${tests})
    target_link_libraries(${test_exe} PRIVATE ${lib} socklab_catch_main socklab_testkit_lab_types)
    target_compile_definitions(${test_exe} PRIVATE
      SOCKLAB_LAB_DIR="${lab_dir}" SOCKLAB_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      SOCKLAB_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    if(programs)
      add_dependencies(${test_exe} ${programs})
    endif()
    # Catch2 v3 gives its tests its own skip code (4) after these properties, unless told
    # SKIP_IS_FAILURE: our skip code, 77 on both versions, would then count as a failure, and a
    # test that cannot run here (no network namespace for a non-root user) would fail instead.
    set(skip_option)
    if(SOCKLAB_CATCH2_MAJOR GREATER_EQUAL 3)
      set(skip_option SKIP_IS_FAILURE)
    endif()
    catch_discover_tests(${test_exe} ${skip_option}
      TEST_PREFIX "lab${id}/"
      PROPERTIES
        LABELS "lab${id}"
        TIMEOUT ${SOCKLAB_TEST_TIMEOUT}
        SKIP_RETURN_CODE ${SOCKLAB_SKIP_RETURN_CODE}
        ENVIRONMENT "SOCKLAB_UNDER_CTEST=1")
  endif()

  # The lab's conversation scripts: one CTest test each, run by socklab-script against the
  # lab's programs (docs/reference/scripts.md).
  file(GLOB scripts CONFIGURE_DEPENDS ${lab_dir}/scripts/*.script)
  foreach(script IN LISTS scripts)
    get_filename_component(stem ${script} NAME_WE)
    socklab_add_script_test("lab${id}/script ${stem}" ${script} "lab${id}")
  endforeach()
endfunction()

# Deadlines in scripts stretch under the sanitizers, as the tests' own deadlines do.
if(SOCKLAB_SANITIZER STREQUAL "thread")
  set(SOCKLAB_SCRIPT_TIME_SCALE 15)
elseif(SOCKLAB_SANITIZER STREQUAL "address" OR SOCKLAB_FUZZ)
  set(SOCKLAB_SCRIPT_TIME_SCALE 5)
else()
  set(SOCKLAB_SCRIPT_TIME_SCALE 1)
endif()

# One CTest test that runs a conversation script with socklab-script against the programs in
# build/bin; labels is a ;-list.
function(socklab_add_script_test name script labels)
  add_test(NAME "${name}"
    COMMAND socklab-script --bin ${CMAKE_BINARY_DIR}/bin --time-scale ${SOCKLAB_SCRIPT_TIME_SCALE} ${script})
  set_tests_properties("${name}" PROPERTIES LABELS "${labels}" TIMEOUT 60)
endfunction()

# Read labs/manifest.txt and add every lab in it, in order.
function(socklab_add_labs_from_manifest)
  file(STRINGS ${SOCKLAB_MANIFEST} lines REGEX "^[0-9][0-9] ")
  set(SOCKLAB_LAB_LIBRARIES "")
  set(SOCKLAB_GRADED_LIBRARIES "")
  set(ids "")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "[ \t]+" ";" fields "${line}")
    list(POP_FRONT fields id folder)
    socklab_add_lab(${id} ${folder} ${fields})
    list(APPEND ids ${id})
  endforeach()
  set_property(GLOBAL PROPERTY SOCKLAB_LAB_IDS ${ids})
endfunction()
