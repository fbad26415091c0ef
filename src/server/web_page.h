#pragma once
// The chat page served at / : self-contained HTML, CSS and JavaScript (no external resources),
// compiled into the binary from src/server/web/chat.html.
namespace herd::server {

const char* chat_page_html();

}  // namespace herd::server
