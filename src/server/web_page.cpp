#include "server/web_page.h"

namespace herd::server {

// web/chat.html.inc wraps web/chat.html in a raw string literal; edit the page there.
const char* chat_page_html() {
  static const char* page =
#include "server/web/chat.html.inc"
      ;
  return page;
}

}  // namespace herd::server
