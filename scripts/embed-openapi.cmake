# Turns an OpenAPI document (IN, e.g. docs/openapi.json) into a C source
# (OUT) that defines its bytes and ETag as declared in
# src/handlers/openapi_int.h (SYMBOL_doc, SYMBOL_doc_len, SYMBOL_etag), so
# that the server never reads docs/ at run time.
# Usage: cmake -DIN=docs/openapi.json -DOUT=lnk_openapi_doc.c -DSYMBOL=lnk_openapi
#        -P embed-openapi.cmake
# A document that is not JSON, or not OpenAPI 3.1, fails the build here
# rather than the first client that reads it.
cmake_minimum_required(VERSION 3.20)

file(READ "${IN}" text)
string(JSON version ERROR_VARIABLE json_error GET "${text}" openapi)
if(json_error)
  message(FATAL_ERROR "${IN} is not a valid OpenAPI document: ${json_error}")
endif()
if(NOT version MATCHES "^3\\.1\\.[0-9]+$")
  message(FATAL_ERROR "${IN}: openapi is '${version}', expected 3.1.x")
endif()

# The ETag: 64 bits of the document's SHA-256, so it changes whenever a byte
# of the document does.
file(SHA256 "${IN}" digest)
string(SUBSTRING "${digest}" 0 16 etag)

file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR len "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes a line (CMake's regular expressions have no {n})
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n" bytes "${bytes}")

get_filename_component(name "${IN}" NAME)
file(WRITE "${OUT}"
  "/* Generated from docs/${name} by scripts/embed-openapi.cmake; do not edit. */\n"
  "#include \"handlers/openapi_int.h\"\n\n"
  "const unsigned char ${SYMBOL}_doc[] = {\n${bytes}\n};\n"
  "const size_t ${SYMBOL}_doc_len = ${len};\n"
  "const char ${SYMBOL}_etag[] = \"\\\"${etag}\\\"\";\n")
