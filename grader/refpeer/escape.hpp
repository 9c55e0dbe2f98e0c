// Bytes shown with escapes, so that \r, NUL and every other invisible byte can be seen.
#pragma once

#include <string>
#include <string_view>

namespace refpeer {

// Returns bytes in double quotes, with \r \n \t \\ \" and \xHH for every other byte that is not
// printable ASCII: "UPPER hi\r\n".
std::string escape(std::string_view bytes);

} // namespace refpeer
