// Stable error codes of the GGUF layer. Never renumber or reuse a code; add
// new ones at the end and document them in docs/gguf.md.
#pragma once

#include <string_view>

namespace numatrace::gguf {

namespace code {
inline constexpr std::string_view io = "GG001";                // cannot open, stat or map
inline constexpr std::string_view truncated = "GG002";         // a field runs past the end
inline constexpr std::string_view magic = "GG003";             // not "GGUF"
inline constexpr std::string_view version = "GG004";           // version not 2 or 3
inline constexpr std::string_view count = "GG005";             // a count the file cannot hold
inline constexpr std::string_view string = "GG006";            // string length or name length
inline constexpr std::string_view value_type = "GG007";        // unknown or nested value type
inline constexpr std::string_view dims = "GG008";              // n_dims > 4, ne < 0, overflow
inline constexpr std::string_view tensor_type = "GG009";       // unknown ggml type
inline constexpr std::string_view alignment = "GG010";         // general.alignment invalid
inline constexpr std::string_view offset = "GG011";            // not the padded running sum
inline constexpr std::string_view bounds = "GG012";            // tensor past the file's end
inline constexpr std::string_view overlap = "GG013";           // two tensors share bytes
inline constexpr std::string_view duplicate_tensor = "GG014";  // same name twice
inline constexpr std::string_view split_no = "GG015";          // split.no wrong
inline constexpr std::string_view split_missing = "GG016";     // a split file is missing
inline constexpr std::string_view split_count = "GG017";       // split.count disagrees
inline constexpr std::string_view split_tensors = "GG018";     // split.tensors.count mismatch
inline constexpr std::string_view split_key_type = "GG019";    // split.* key of wrong type
inline constexpr std::string_view duplicate_key = "GG020";     // same KV key twice
inline constexpr std::string_view block = "GG021";             // ne[0] not a multiple of the block
}  // namespace code

}  // namespace numatrace::gguf
