#pragma once

#include <sys/types.h>
#include <string>
#include <string_view>

namespace lgsp::util {

/// Creates `path` with `text` and permissions `mode`, refusing to replace an existing file
/// (O_EXCL): how keys and secrets are written, so a second run never overwrites one. Throws
/// std::runtime_error naming the file.
void write_new_file(const std::string& path, std::string_view text, mode_t mode);

}  // namespace lgsp::util
