#include "consents/book.hpp"

#include <prometheus/registry.h>

#include "util/on_pool.hpp"

namespace lgsp::consents {

ConsentBook::ConsentBook(const config::ConsentsConfig& cfg, obs::Metrics& metrics)
    : ConsentBook(cfg, open_consent_store(cfg.store), metrics) {}

ConsentBook::ConsentBook(const config::ConsentsConfig& cfg, std::unique_ptr<ConsentStore> store,
                         obs::Metrics& metrics)
    : purposes_(cfg.purposes.begin(), cfg.purposes.end()),
      max_days_(cfg.max_days),
      store_(std::move(store)),
      checks_(prometheus::BuildCounter()
                  .Name("lgsp_consent_checks_total")
                  .Help("Requests whose purpose needs the citizen's consent (or that presented "
                        "one), by partner and outcome: valid, missing, unknown, other_partner, "
                        "other_citizen, other_purpose, revoked, expired, unavailable (a valid "
                        "consent whose scope does not cover the request is refused as "
                        "lgsp_gateway_rejections_total{reason=\"consent\"})")
                  .Register(metrics.registry())),
      changes_(prometheus::BuildCounter()
                   .Name("lgsp_consent_changes_total")
                   .Help("Consents recorded (granted) and withdrawn (revoked) through the "
                         "citizen app")
                   .Register(metrics.registry())) {
  changes_.Add({{"action", "granted"}});
  changes_.Add({{"action", "revoked"}});
}

ConsentBook::~ConsentBook() { pool_.join(); }

void ConsentBook::checked(const std::string& partner, std::string_view outcome) {
  checks_.Add({{"partner", partner}, {"outcome", std::string(outcome)}}).Increment();
}

void ConsentBook::changed(std::string_view action) {
  changes_.Add({{"action", std::string(action)}}).Increment();
}

template <class T>
boost::asio::awaitable<ConsentBook::Result<T>> ConsentBook::call(
    std::function<T(ConsentStore&)> work) {
  if (queued_.fetch_add(1) >= kMaxQueued) {
    --queued_;
    co_return Unavailable{"too many consent queries waiting"};
  }
  // Named, not temporaries in the co_await expression (GCC 12, util/on_pool.hpp).
  auto run = [this, work = std::move(work),
              queued_at = std::chrono::steady_clock::now()]() -> Result<T> {
    --queued_;
    if (std::chrono::steady_clock::now() - queued_at > kMaxWait)
      return Unavailable{"waited too long for the consent store"};
    std::lock_guard lock(mu_);
    try {
      return work(*store_);
    } catch (const std::exception& e) {
      return Unavailable{e.what()};
    }
  };
  auto hop = util::on_pool<Result<T>>(pool_, std::move(run));
  co_return co_await std::move(hop);
}

boost::asio::awaitable<ConsentBook::Result<std::optional<Consent>>> ConsentBook::find(
    std::string id) {
  std::function<std::optional<Consent>(ConsentStore&)> work =
      [id = std::move(id)](ConsentStore& s) { return s.find(id); };
  co_return co_await call(std::move(work));
}

boost::asio::awaitable<ConsentBook::Result<bool>> ConsentBook::add(Consent c) {
  std::function<bool(ConsentStore&)> work = [c = std::move(c)](ConsentStore& s) {
    s.add(c);
    return true;
  };
  co_return co_await call(std::move(work));
}

boost::asio::awaitable<ConsentBook::Result<std::optional<Consent>>> ConsentBook::revoke(
    std::string id, std::string subject_hash, std::int64_t at_ms) {
  std::function<std::optional<Consent>(ConsentStore&)> work =
      [id = std::move(id), hash = std::move(subject_hash), at_ms](ConsentStore& s) {
        return s.revoke(id, hash, at_ms);
      };
  co_return co_await call(std::move(work));
}

boost::asio::awaitable<ConsentBook::Result<std::vector<Consent>>> ConsentBook::list(
    std::string subject_hash) {
  std::function<std::vector<Consent>(ConsentStore&)> work =
      [hash = std::move(subject_hash)](ConsentStore& s) { return s.by_subject(hash, kMaxListed); };
  co_return co_await call(std::move(work));
}

}  // namespace lgsp::consents
