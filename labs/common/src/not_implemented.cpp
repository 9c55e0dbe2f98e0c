#include "socklab/not_implemented.hpp"

namespace socklab {

NotImplemented::NotImplemented(std::string_view function, std::string_view doc_section)
    : function_(function), doc_section_(doc_section),
      message_("not implemented yet: " + function_ + " (read " + doc_section_ + ")") {}

} // namespace socklab
