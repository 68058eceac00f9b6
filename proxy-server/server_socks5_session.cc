#include "server_socks5_session.h"

#include "mxegress/util/log.h"

namespace mx {

bool address_in(const std::vector<Cidr>& cidrs, const SocketAddress& peer) {
  for (const Cidr& cidr : cidrs) {
    if (cidr.contains(peer)) return true;
  }
  return false;
}

ServerSocks5Session::ServerSocks5Session(EgressContext context, SnapshotSource snapshots,
                                         std::shared_ptr<PasswordCache> passwords,
                                         std::unique_ptr<TcpConnection> client,
                                         ConcurrencyLimit::Slot startup,
                                         FinishedCallback finished)
    : ctx_(context),
      snapshots_(std::move(snapshots)),
      passwords_(std::move(passwords)),
      client_(std::move(client)),
      startup_(std::move(startup)),
      finished_(std::move(finished)) {
  peer_address_ = client_->peer_address();
  peer_ = peer_address_ ? peer_address_->to_string() : "?";
}

ServerSocks5Session::~ServerSocks5Session() {
  held_.reset();
  session_.reset();
  handshake_.reset();
}

void ServerSocks5Session::start() {
  handshake_ = std::make_unique<Socks5Handshake>(
      ctx_.loop, *client_, passwords_.get(), snapshots_()->config().server.handshake_timeout,
      peer_, [this](Socks5Handshake::Request r) { on_request(std::move(r)); },
      [this](const std::string& why) { finish(why); });
  handshake_->start();
}

void ServerSocks5Session::on_request(Socks5Handshake::Request request) {
  startup_.release();  // logged in
  std::shared_ptr<const ServerSnapshot> snapshot = snapshots_();
  const ServerConfig::Socks5User* user = snapshot->socks5_user(request.user);
  const ServerConfig::Tenant* tenant = user ? snapshot->tenant(user->tenant) : nullptr;
  if (tenant == nullptr || !peer_address_ || !address_in(user->from, *peer_address_)) {
    const std::string why = tenant == nullptr
                                ? "user " + request.user + " no longer exists"
                                : "user " + request.user + " may not connect from " +
                                      (peer_address_ ? peer_address_->ip_string() : "?");
    // Policy: the user is refused, nothing failed.
    MX_LOG(Info, "socks5") << "refused" << log_kv("peer", peer_)
                           << log_json_kv("user", request.user)
                           << log_kv("target", request.target.to_string()) << log_kv("reason", why);
    if (tenant != nullptr) {
      TrailRecord record;
      record.time = std::chrono::system_clock::now();
      record.tenant = tenant->name;
      record.via = "socks5";
      record.peer = peer_;
      record.credential = request.user;
      record.target = request.target.to_string();
      record.reply = static_cast<int>(socks5::Reply::NotAllowed);
      record.end = why;
      ctx_.trail.write(record);
    }
    handshake_->send_reply(socks5::Reply::NotAllowed, Target{});
    finish(why);
    return;
  }
  session_ = std::make_unique<EgressSession>(
      ctx_, snapshot, *tenant, EgressOrigin{"socks5", peer_, request.user}, request.target,
      *client_, [this](socks5::Reply reply, const Target& bound) { return on_reply(reply, bound); },
      [this](const RelayOutcome& outcome) { finish(outcome.end); });
  held_ = std::make_unique<HeldInput>(*client_, std::move(request.early_data),
                                      [this](const std::string& why) { on_client_gone(why); });
  session_->start();
}

Bytes ServerSocks5Session::on_reply(socks5::Reply reply, const Target& bound) {
  replied_ = true;
  // On success the relay reads the client from here on, in this same turn.
  Bytes early_data = held_->release(reply == socks5::Reply::Succeeded);
  handshake_->send_reply(reply, bound);
  if (reply != socks5::Reply::Succeeded) finish(socks5::reply_name(reply));
  return early_data;
}

// The client left while we dialed: stop (the session logs it and writes the
// trail line) and close.
void ServerSocks5Session::on_client_gone(const std::string& why) {
  session_->cut(why);
  finish(why);
}

void ServerSocks5Session::on_reload() {
  if (!session_ || finished_called_) return;
  const ServerConfig::Tenant* tenant = snapshots_()->tenant(session_->tenant_name());
  if (tenant != nullptr && tenant->enabled) return;
  const std::string why = "tenant disabled or removed";
  session_->cut(why);
  // A dial cut short replies nothing and calls nothing back: without this
  // the client would wait for its reply until it gave up. It is closed, as
  // a tunnel's session is reset in that case.
  if (!replied_) finish(why);
}

void ServerSocks5Session::finish(const std::string& why) {
  if (finished_called_) return;
  finished_called_ = true;
  client_->set_reader(nullptr);
  client_->close_after_flush();
  MX_LOG(Debug, "socks5") << log_kv("peer", peer_) << " closed: " << why;
  finished_(this);
}

}  // namespace mx
