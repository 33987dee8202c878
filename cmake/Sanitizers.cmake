# Sanitizer, coverage and fuzz switches. They apply to the whole build so that the library and
# the test executables agree on instrumentation.
if(SHD_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
    # MADV_DONTDUMP and guard pages confuse ASan's shadow mapping (STYLE.md caveats).
    add_compile_definitions(SHD_NO_DONTDUMP=1)
endif()
if(SHD_COVERAGE)
    add_compile_options(--coverage -O0)
    add_link_options(--coverage)
endif()
if(SHD_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "SHD_FUZZ needs clang (CC=clang)")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
    add_compile_definitions(SHD_NO_DONTDUMP=1 SHD_FUZZING=1)
endif()
