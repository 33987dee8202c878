# shd_warnings: the warning set every target of the project links PRIVATE (STYLE.md rule 41).
add_library(shd_warnings INTERFACE)
target_compile_options(shd_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wformat=2 -Wformat-security -Wcast-qual -Wcast-align -Wwrite-strings
    -Wmissing-prototypes -Wstrict-prototypes -Wundef -Wpointer-arith
    -Wimplicit-fallthrough -Wvla -Werror=implicit-function-declaration)
if(SHD_WERROR)
    target_compile_options(shd_warnings INTERFACE -Werror)
endif()
