#include "batch/api.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <tuple>

#include "batch/input.hpp"
#include "gateway/responses.hpp"
#include "gateway/validation.hpp"
#include "observability/log.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"
#include "util/hashing.hpp"
#include "util/media_type.hpp"
#include "util/on_pool.hpp"

namespace lgsp::batch {

using gateway::parse_request;
using gateway::ParsedRequest;

using gateway::Admission;
using gateway::Partner;
using gateway::RateLimiter;

namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace v1 = bus::v1;
namespace asio = boost::asio;
using batch::JobState;
using http::Problem;
using http::problem;
using http::Status;
using util::on_pool;

/// A submission's parameters, from its query and headers: nothing personal travels there.
struct Submission {
  std::string registry, operation, purpose, procedure_code;
  BatchFormat format = BatchFormat::kNdjson;
  std::string type;      // the media type sent
  std::string encoding;  // the content encoding sent ("" when none)
  bool gzip = false;
  std::string idempotency_key;
  /// What a retried submission must repeat for its Idempotency-Key to mean the same job.
  std::string fingerprint() const {
    return registry + "\n" + operation + "\n" + purpose + "\n" + procedure_code + "\n" + type +
           "\n" + encoding;
  }
};

/// What a results read asks for.
struct ResultsQuery {
  bool csv = false;
  std::int64_t after_line = 0;  // the last line already read
};

namespace {

constexpr std::string_view kPrefix = "/v1/batches";
/// Records stored per transaction during an upload.
constexpr std::size_t kAppendBatch = 500;
/// Result rows read per store query while streaming results.
constexpr std::size_t kResultPage = 1000;

std::string new_job_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no randomness for a job id");
  return "job-" + util::to_hex(bytes, sizeof bytes);
}

/// A job id as this API makes them; anything else is answered 404 without a store lookup.
bool plausible_job_id(std::string_view id) {
  if (id.size() != 36 || id.substr(0, 4) != "job-") return false;
  return std::all_of(id.begin() + 4, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

/// The job as the API shows it.
std::string job_json(const batch::Job& job, const std::string& request_id) {
  const auto& c = job.counts;
  json::object counts{{"total", c.total},         {"done", c.done},
                      {"matched", c.matched},     {"mismatched", c.mismatched},
                      {"not_found", c.not_found}, {"invalid", c.invalid},
                      {"failed", c.failed}};
  // Rate over the job's running time, of the records the registries answered (invalid
  // records are answered at upload, instantly, and would flatter it).
  std::int64_t rate = 0;  // records per second
  json::value eta = nullptr;
  if (job.started_ms > 0) {
    const std::int64_t end = job.finished_ms > 0 ? job.finished_ms : util::unix_ms_now();
    const std::int64_t ms = std::max<std::int64_t>(end - job.started_ms, 1);
    rate = std::max<std::int64_t>(c.done - c.invalid, 0) * 1000 / ms;
  }
  if (job.state == JobState::kCompleted) {
    eta = 0;
  } else if (job.state == JobState::kRunning && rate > 0) {
    eta = (c.total - c.done + rate - 1) / rate;
  }
  json::object o{{"request_id", request_id},
                 {"id", job.id},
                 {"registry", job.registry},
                 {"operation", job.operation},
                 {"purpose", job.purpose},
                 {"format", job.format},
                 {"state", batch::to_string(job.state)},
                 {"created_at", gateway::time_or_null(job.created_ms)},
                 {"started_at", gateway::time_or_null(job.started_ms)},
                 {"finished_at", gateway::time_or_null(job.finished_ms)},
                 {"counts", std::move(counts)},
                 {"rate_per_second", rate},
                 {"eta_seconds", std::move(eta)},
                 {"results", std::string(kPrefix) + "/" + job.id + "/results"}};
  if (!job.procedure_code.empty()) o["procedure_code"] = job.procedure_code;
  if (!job.error.empty()) o["error"] = job.error;
  return json::serialize(o);
}

http::Response job_response(Status status, const batch::Job& job, const std::string& request_id,
                            unsigned version) {
  http::Response res =
      http::make_json_response(status, job_json(job, request_id), request_id, version, true);
  res.set(bhttp::field::location, std::string(kPrefix) + "/" + job.id);
  return res;
}

http::StreamedResponse whole(http::Response res) { return {std::move(res), {}}; }

/// The problem as a whole (unstreamed) answer.
http::StreamedResponse refusal(const Problem& p, const std::string& request_id, unsigned version) {
  return whole(http::make_problem_response(p, request_id, version, true));
}

/// 405 naming the methods the route takes.
http::StreamedResponse not_allowed(const char* allow, std::string detail,
                                   const std::string& request_id, unsigned version) {
  auto res = refusal(problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                             std::move(detail)),
                     request_id, version);
  res.head.set(bhttp::field::allow, allow);
  return res;
}

/// A job's route (`tail` after /v1/batches/{id}: "" or "/results") and method: the 404 or
/// 405 to answer, or nullopt.
std::optional<http::StreamedResponse> refuse_job_route(std::string_view tail, bhttp::verb method,
                                                       const std::string& request_id,
                                                       unsigned version) {
  const bool reads_results = tail == "/results";
  if (!tail.empty() && !reads_results) {
    return refusal(problem(Status::not_found, "not-found", "No such endpoint",
                           "see docs/api.md for the endpoints"),
                   request_id, version);
  }
  if (reads_results && method != bhttp::verb::get) {
    return not_allowed("GET", "read results with GET", request_id, version);
  }
  if (!reads_results && method != bhttp::verb::get && method != bhttp::verb::delete_) {
    return not_allowed("GET, DELETE", "use GET to read a job, DELETE to cancel it", request_id,
                       version);
  }
  return std::nullopt;
}

/// One result line as CSV: line,status,subject_found,match,fields,errors (fields as
/// "name=grade;…", errors as "field: detail;…").
std::string csv_line(std::string_view json_line) {
  boost::system::error_code ec;
  const json::value v = json::parse(json_line, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.as_object();
  const auto text = [&](std::string_view key) -> std::string {
    const auto* x = o.if_contains(key);
    if (x == nullptr) return {};
    if (x->is_string()) return std::string(x->get_string());
    if (x->is_bool()) return x->get_bool() ? "true" : "false";
    return json::serialize(*x);
  };
  std::string fields;
  if (const auto* f = o.if_contains("fields"); f != nullptr && f->is_object()) {
    for (const auto& kv : f->get_object()) {
      if (!fields.empty()) fields += ';';
      fields += std::string(kv.key()) + "=" + std::string(kv.value().as_string());
    }
  }
  std::string errors;
  if (const auto* e = o.if_contains("errors"); e != nullptr && e->is_array()) {
    for (const auto& err : e->get_array()) {
      if (!errors.empty()) errors += ';';
      errors += std::string(err.at("field").as_string()) + ": " +
                std::string(err.at("detail").as_string());
    }
  }
  const auto quoted = [](const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
      if (c == '"') q += '"';
      q += c;
    }
    return q + "\"";
  };
  return text("line") + "," + text("status") + "," + text("subject_found") + "," + text("match") +
         "," + quoted(fields) + "," + quoted(errors) + "\n";
}

/// The job's parameters from the request target into `s`; every mistake into `errors`.
void read_job_query(std::string_view target, Submission& s, std::vector<http::FieldError>& errors) {
  const auto url = boost::urls::parse_origin_form(target);
  for (const auto& param : url->params()) {
    std::string* into = param.key == "registry"         ? &s.registry
                        : param.key == "operation"      ? &s.operation
                        : param.key == "purpose"        ? &s.purpose
                        : param.key == "procedure_code" ? &s.procedure_code
                                                        : nullptr;
    if (into == nullptr) {
      errors.push_back(
          {param.key, "unknown query parameter (registry, operation, purpose, procedure_code)"});
    } else {
      *into = param.value;
    }
  }
  if (s.registry.empty()) {
    errors.push_back({"registry", "is required: one of " + registries::known_names()});
  } else if (const registries::Module* module = registries::find(s.registry);
             module == nullptr || !registries::has_operation(module->catalogue(), "batch-verify")) {
    errors.push_back({"registry", "must be one of " + registries::known_names()});
  }
  if (s.operation.empty()) {
    errors.push_back({"operation", "is required: verify"});
  } else if (s.operation != "verify") {
    errors.push_back({"operation", "must be verify (bulk lookups are not offered)"});
  }
  if (s.purpose.empty()) {
    errors.push_back({"purpose", "is required: why the records are verified"});
  } else if (s.purpose.size() > 200) {
    errors.push_back({"purpose", "must be at most 200 bytes"});
  }
  if (s.procedure_code.size() > 64)
    errors.push_back({"procedure_code", "must be at most 64 bytes"});
}

/// The body's format and encoding from the headers into `s`; the 415 when not one we read.
std::optional<Problem> read_body_kind(const http::RequestHead& head, Submission& s) {
  s.type = util::media_type(head[bhttp::field::content_type]);
  if (s.type == "application/x-ndjson" || s.type == "application/ndjson" ||
      s.type == "application/jsonl") {
    s.format = BatchFormat::kNdjson;
  } else if (s.type == "text/csv") {
    s.format = BatchFormat::kCsv;
  } else {
    return problem(Status::unsupported_media_type, "unsupported-media-type",
                   "Unsupported media type",
                   "send the records as Content-Type: application/x-ndjson (one JSON object per "
                   "line) or text/csv (a header row naming the members)");
  }
  const std::string_view encoding = head[bhttp::field::content_encoding];
  s.encoding = util::media_type(encoding);
  if (!encoding.empty() && s.encoding != "identity" && s.encoding != "gzip") {
    return problem(Status::unsupported_media_type, "unsupported-media-type",
                   "Unsupported media type",
                   "the body may be sent as is or with Content-Encoding: gzip");
  }
  s.gzip = s.encoding == "gzip";
  return std::nullopt;
}

/// The Idempotency-Key header into `s`, or the 400.
std::optional<Problem> read_idempotency_key(const http::RequestHead& head, Submission& s) {
  s.idempotency_key = std::string(head["Idempotency-Key"]);
  return gateway::check_idempotency_key(s.idempotency_key);
}

/// A new job of `partner` for `s`, uploading; its records' common envelope as a template.
/// Held by this instance while it arrives (its engine renews the lease): should this
/// instance die, another discards the upload once the lease has run out.
batch::Job new_job(const Submission& s, const Partner& partner, const std::string& request_id,
                   const BatchEngine& engine) {
  batch::Job job;
  job.id = new_job_id();
  job.partner_id = partner.id;
  job.registry = s.registry;
  job.operation = s.operation;
  job.purpose = s.purpose;
  job.procedure_code = s.procedure_code;
  job.format = s.format == BatchFormat::kCsv ? "csv" : "ndjson";
  job.idempotency_key = s.idempotency_key;
  job.fingerprint = s.fingerprint();
  job.request_id = request_id;
  v1::Request tmpl;
  tmpl.set_registry(s.registry);
  tmpl.set_operation(v1::OPERATION_VERIFY);
  tmpl.set_partner_id(partner.id);
  tmpl.set_purpose(s.purpose);
  tmpl.set_procedure_code(s.procedure_code);
  tmpl.set_name_matching(partner.diacritic_insensitive ? v1::NAME_MATCHING_DIACRITIC_INSENSITIVE
                                                       : v1::NAME_MATCHING_STRICT);
  tmpl.set_required_grade(partner.partial_is_enough ? v1::GRADE_PARTIAL : v1::GRADE_EXACT);
  job.template_request = tmpl.SerializeAsString();
  job.created_ms = util::unix_ms_now();
  job.last_progress_ms = job.created_ms;
  job.owner = engine.owner();
  job.lease_until_ms = engine.lease_until(job.created_ms);
  return job;
}

/// `?format=ndjson|csv&after_line=N` of a results read, or the 400 naming every mistake.
std::variant<ResultsQuery, Problem> read_results_query(const boost::urls::url_view& url) {
  ResultsQuery q;
  std::vector<http::FieldError> errors;
  for (const auto& param : url.params()) {
    if (param.key == "format" && (param.value == "ndjson" || param.value == "csv")) {
      q.csv = param.value == "csv";
    } else if (param.key == "format") {
      errors.push_back({"format", "must be ndjson or csv"});
    } else if (param.key == "after_line") {
      const auto& v = param.value;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), q.after_line);
      if (ec != std::errc{} || end != v.data() + v.size() || q.after_line < 0)
        errors.push_back({"after_line", "must be a non-negative integer"});
    } else {
      errors.push_back({param.key, "unknown query parameter (format, after_line)"});
    }
  }
  if (!errors.empty()) return http::validation_problem(std::move(errors));
  return q;
}

/// The problem for an upload the connection cut short: nothing of it is kept.
Problem interrupted(boost::system::error_code ec) {
  if (ec == boost::beast::error::timeout) {
    return problem(Status::request_timeout, "request-timeout", "Request not received in time",
                   "the upload stalled: no data for the read timeout; nothing was kept, submit "
                   "again");
  }
  return problem(
      Status::bad_request, "upload-incomplete", "The upload did not complete",
      "the body ended early or stalled (" + ec.message() + "); nothing was kept, submit again");
}

}  // namespace

/// Turns uploaded records into stored ones, kAppendBatch per transaction: each validated like
/// an interactive request (its purpose the job's), an invalid one stored with its result.
class RecordSink {
 public:
  RecordSink(std::string job_id, const Submission& s, registries::ReaderPolicy policy,
             std::int64_t stored_before)
      : job_id_(std::move(job_id)),
        s_(s),
        policy_(policy),
        reader_(s.format, s.gzip),
        stored_before_(stored_before) {}

  /// A piece of the body: its complete records stored; an error about the body, else "".
  std::string feed(std::string_view piece) {
    return reader_.feed(piece, [this](BatchRecord&& r) { add(std::move(r)); });
  }
  /// The end of the body: the last records read; an error about the body, else "".
  std::string finish() {
    return reader_.finish([this](BatchRecord&& r) { add(std::move(r)); });
  }
  /// Records read and not yet handed out for storing: a full batch (or, `all`, whatever is
  /// left), else nothing.
  std::vector<NewRecord> take(bool all) {
    std::vector<NewRecord> out;
    if (all || pending_.size() >= kAppendBatch) out.swap(pending_);
    return out;
  }
  const std::string& job_id() const { return job_id_; }
  std::int64_t records() const { return records_; }
  std::int64_t valid() const { return valid_; }
  std::int64_t invalid() const { return records_ - valid_; }
  std::uint64_t decoded_bytes() const { return reader_.decoded_bytes(); }
  bool gzip() const { return s_.gzip; }
  /// Records the partner's other kept jobs held when this one was created.
  std::int64_t stored_before() const { return stored_before_; }

 private:
  void add(BatchRecord&& rec) {
    ++records_;
    NewRecord r;
    r.line = rec.number;
    if (const auto* why = std::get_if<std::string>(&rec.value)) {
      r.result = invalid_line(rec.number, {{"body", *why}});
    } else {
      convert(std::get<json::object>(rec.value), r);
    }
    pending_.push_back(std::move(r));
  }

  /// A record's JSON object → its envelope (only what differs per record: the job-wide
  /// fields travel in the job's template), or its result when invalid.
  void convert(json::object& obj, NewRecord& r) {
    std::vector<http::FieldError> errors;
    if (const auto* p = obj.if_contains("purpose"); p == nullptr || p->is_null()) {
      obj["purpose"] = s_.purpose;
    } else if (!p->is_string() || p->get_string() != s_.purpose) {
      errors.push_back({"purpose", "must be absent or equal to the job's purpose"});
    }
    auto parsed = parse_request(s_.registry, "verify", obj, policy_);
    if (auto* errs = std::get_if<std::vector<http::FieldError>>(&parsed)) {
      errors.insert(errors.end(), errs->begin(), errs->end());
    } else if (!std::get<ParsedRequest>(parsed).lawful_investigation.empty()) {
      // A job's records are audited per chunk: none of them can be withheld alone.
      errors.push_back({"lawful_investigation", "not accepted in bulk jobs"});
    }
    if (!errors.empty()) {
      r.result = invalid_line(r.line, errors);
      return;
    }
    auto& env = std::get<ParsedRequest>(parsed).envelope;
    env.clear_registry();
    env.clear_operation();
    env.clear_purpose();
    if (env.procedure_code() == s_.procedure_code) env.clear_procedure_code();
    r.request = env.SerializeAsString();
    ++valid_;
  }

  std::string job_id_;
  const Submission& s_;
  registries::ReaderPolicy policy_;
  BatchRecordReader reader_;
  std::int64_t stored_before_;
  std::vector<NewRecord> pending_;
  std::int64_t records_ = 0;
  std::int64_t valid_ = 0;
};

BatchApi::BatchApi(BatchLimits limits, batch::BatchStore& store, BatchEngine& engine)
    : limits_(limits), store_(store), engine_(engine) {}

bool BatchApi::matches(std::string_view target) {
  target = target.substr(0, target.find('?'));
  return target == kPrefix ||
         (target.size() > kPrefix.size() && target.substr(0, kPrefix.size() + 1) == "/v1/batches/");
}

std::pair<std::string_view, std::string_view> BatchApi::classify(const http::RequestHead& head) {
  std::string_view path = head.target();
  path = path.substr(0, path.find('?'));
  if (path == kPrefix) return {"/v1/batches", "submit"};
  std::string_view rest = path.substr(std::min(path.size(), kPrefix.size() + 1));
  const std::string_view tail = rest.substr(std::min(rest.size(), rest.find('/')));
  if (tail == "/results") return {"/v1/batches/{id}/results", "results"};
  if (!tail.empty()) return {"other", "other"};
  return {"/v1/batches/{id}", head.method() == bhttp::verb::delete_ ? "cancel" : "status"};
}

boost::asio::awaitable<BatchCall> BatchApi::handle(const http::RequestHead& head,
                                                   http::BodyReader& body, const Partner& partner,
                                                   const std::string& request_id,
                                                   Admission& admission,
                                                   AuditSubmission audit_submission) {
  const unsigned version = head.version();
  BatchCall call;
  const auto refuse = [&](const Problem& p) {
    call.res = refusal(p, request_id, version);
    return std::move(call);
  };
  auto url = boost::urls::parse_origin_form(head.target());
  if (!url) {
    co_return refuse(problem(Status::bad_request, "validation", "The request is invalid",
                             "the request target is not a valid URL", {{"target", "malformed"}}));
  }
  const std::string path = url->path();
  if (path == kPrefix) {
    if (head.method() != bhttp::verb::post) {
      call.res = not_allowed("POST", "submit a job with POST; read one with GET /v1/batches/{id}",
                             request_id, version);
      co_return std::move(call);
    }
    co_return co_await submit(head, body, partner, request_id, admission, audit_submission);
  }

  // /v1/batches/{id} or /v1/batches/{id}/results
  std::string_view rest = std::string_view(path).substr(kPrefix.size() + 1);
  std::string_view id = rest.substr(0, rest.find('/'));
  std::string_view tail = rest.substr(id.size());
  call.batch_id = std::string(id);
  const std::string_view action = classify(head).second;
  if (auto refused = refuse_job_route(tail, head.method(), request_id, version)) {
    call.res = std::move(*refused);
    co_return std::move(call);
  }
  // Another partner's job is as absent as one that never existed.
  std::optional<batch::Job> job;
  if (plausible_job_id(id)) {
    job = co_await on_pool<std::optional<Job>>(io_, [this, &id] { return store_.find_job(id); });
  }
  if (!job || job->partner_id != partner.id || job->state == JobState::kUploading) {
    co_return refuse(problem(Status::not_found, "batch-not-found", "No such job",
                             "no job with this id belongs to partner '" + partner.id + "'"));
  }
  call.registry = job->registry;
  call.purpose = job->purpose;
  call.procedure_code = job->procedure_code;
  call.subject_count = job->counts.total;

  if (action == "status") {
    call.res = whole(job_response(Status::ok, *job, request_id, version));
    co_return std::move(call);
  }
  if (action == "cancel") {
    call.res = co_await cancel(*job, partner, request_id, version);
    co_return std::move(call);
  }
  // Results: NDJSON (default) or CSV, up to the first unanswered record.
  auto query = read_results_query(*url);
  if (auto* refused = std::get_if<Problem>(&query)) co_return refuse(*refused);
  call.res = results(*job, std::get<ResultsQuery>(query), request_id, version);
  co_return std::move(call);
}

asio::awaitable<http::StreamedResponse> BatchApi::cancel(const Job& job, const Partner& partner,
                                                         const std::string& request_id,
                                                         unsigned version) {
  // The job as cancelled, or nullopt when it had already finished.
  const auto cancelled = co_await on_pool<std::optional<Job>>(io_, [this, &job] {
    if (batch::is_terminal(job.state) ||
        !store_.set_state(job.id, JobState::kCancelled, util::unix_ms_now())) {
      return std::optional<Job>{};
    }
    return store_.find_job(job.id);
  });
  if (!cancelled) {
    co_return refusal(problem(Status::conflict, "batch-finished", "The job has finished",
                              "job " + job.id + " is " + std::string(batch::to_string(job.state)) +
                                  "; only queued or running jobs can be cancelled"),
                      request_id, version);
  }
  engine_.wake();
  obs::info("batch_job_cancelled", {{"job", job.id}, {"partner", partner.id}});
  co_return whole(job_response(Status::ok, *cancelled, request_id, version));
}

http::StreamedResponse BatchApi::results(const Job& job, const ResultsQuery& query,
                                         const std::string& request_id, unsigned version) {
  const bool csv = query.csv;
  http::StreamedResponse res;
  res.head = http::Response{Status::ok, version};
  res.head.set(bhttp::field::content_type,
               csv ? "text/csv; charset=utf-8" : "application/x-ndjson");
  res.head.set(http::kRequestIdHeader, request_id);
  res.head.set("X-Batch-State", std::string(batch::to_string(job.state)));
  res.head.set("X-Batch-Done", std::to_string(job.counts.done));
  res.head.set("X-Batch-Total", std::to_string(job.counts.total));
  // Reads a page at a time (on io_), so memory stays one page deep.
  struct Cursor {
    std::int64_t after;
    bool header_pending;
    bool done = false;
  };
  auto cursor = std::make_shared<Cursor>(Cursor{query.after_line, csv});
  // One page: read on io_, never on the connection's thread.
  const auto page = [this, cursor, csv, job_id = job.id]() -> std::optional<std::string> {
    if (cursor->done) return std::nullopt;
    std::string out;
    if (cursor->header_pending) {
      cursor->header_pending = false;
      out = "line,status,subject_found,match,fields,errors\n";
    }
    const auto rows = store_.results(job_id, cursor->after, kResultPage);
    if (rows.size() < kResultPage) cursor->done = true;
    for (const auto& row : rows) {
      if (!row.result) {
        cursor->done = true;
        break;
      }
      out += csv ? csv_line(*row.result) : *row.result + '\n';
      cursor->after = row.line;
    }
    if (out.empty() && cursor->done) return std::nullopt;
    return out;
  };
  res.next = [this, page] { return on_pool<std::optional<std::string>>(io_, page); };
  return res;
}

boost::asio::awaitable<BatchCall> BatchApi::submit(const http::RequestHead& head,
                                                   http::BodyReader& body, const Partner& partner,
                                                   const std::string& request_id,
                                                   Admission& admission,
                                                   const AuditSubmission& audit_submission) {
  const unsigned version = head.version();
  BatchCall call;
  const auto refuse = [&](const Problem& p) {
    call.res = refusal(p, request_id, version);
    return std::move(call);
  };
  Submission s;
  std::vector<http::FieldError> errors;
  read_job_query(head.target(), s, errors);
  // Noted even when refused: the audit trail says why a partner tried to submit.
  std::tie(call.registry, call.purpose, call.procedure_code) =
      std::tie(s.registry, s.purpose, s.procedure_code);
  if (!errors.empty()) co_return refuse(http::validation_problem(std::move(errors)));
  if (auto refused = admission.authorise(partner, s.registry, "batch-verify"))
    co_return refuse(*refused);
  if (auto refused = admission.purpose(partner, s.purpose)) co_return refuse(*refused);
  if (auto refused = read_body_kind(head, s)) co_return refuse(*refused);
  if (auto refused = read_idempotency_key(head, s)) co_return refuse(*refused);
  // Every job-store call below runs on io_ (on_pool), never on this HTTP thread.
  if (!s.idempotency_key.empty()) {
    const auto earlier = co_await on_pool<std::optional<Job>>(io_, [this, &partner, &s] {
      return store_.find_by_idempotency_key(partner.id, s.idempotency_key);
    });
    if (earlier && replay(*earlier, s, request_id, version, call)) co_return std::move(call);
  }
  const auto active = co_await on_pool<std::int64_t>(
      io_, [this, &partner] { return store_.active_jobs(partner.id); });
  if (auto refused = refuse_new_job(head, s, partner, admission, request_id, active)) {
    call.res = std::move(*refused);
    co_return std::move(call);
  }

  const batch::Job job = new_job(s, partner, request_id, engine_);
  // The active-job and storage limits are checked and the job created in one transaction:
  // parallel submissions cannot all pass a check made before any of them exists.
  const auto created = co_await on_pool<BatchStore::Creation>(io_, [this, &job] {
    return store_.create_job_within(job, limits_.max_active_jobs_per_partner,
                                    limits_.max_stored_records_per_partner);
  });
  if (auto refused = not_created(created, job, request_id, version)) {
    call.res = std::move(*refused);
    co_return std::move(call);
  }
  const auto stored_before = co_await on_pool<std::int64_t>(
      io_, [this, &partner] { return store_.stored_records(partner.id); });
  RecordSink sink(job.id, s, {.year_only_dates = partner.year_only_dates}, stored_before);
  std::optional<Problem> failed;
  try {
    failed = co_await upload(body, sink, request_id, partner.id);
  } catch (const std::exception& e) {
    obs::error("batch_store_failed", {{"request_id", request_id}, {"error", e.what()}});
    failed =
        problem(Status::service_unavailable, "batch-store-unavailable", "Jobs cannot be stored",
                "the job store failed; nothing was kept, retry later");
  }
  if (!failed) failed = admit_records(job, sink, partner, admission, audit_submission);
  co_return co_await conclude(job, sink, std::move(failed), request_id, version, std::move(call));
}

boost::asio::awaitable<BatchCall> BatchApi::conclude(const Job& job, const RecordSink& sink,
                                                     std::optional<Problem> failed,
                                                     const std::string& request_id,
                                                     unsigned version, BatchCall call) {
  if (failed) {
    co_await on_pool<bool>(io_, [this, &job] {
      store_.discard(job.id);
      return true;
    });
    call.res = refusal(*failed, request_id, version);
    co_return std::move(call);
  }
  const auto queued = co_await on_pool<std::optional<Job>>(io_, [this, &job] {
    store_.set_state(job.id, JobState::kQueued, util::unix_ms_now());
    return store_.find_job(job.id);
  });
  if (!queued) {
    call.res = refusal(problem(Status::service_unavailable, "batch-store-unavailable",
                               "Jobs cannot be stored", "the job store lost the job; retry later"),
                       request_id, version);
    co_return std::move(call);
  }
  engine_.wake();
  call.batch_id = job.id;
  call.subject_count = sink.valid();
  call.audited = true;
  call.res = whole(accept(*queued, sink, request_id, version));
  co_return std::move(call);
}

std::optional<http::StreamedResponse> BatchApi::not_created(BatchStore::Creation created,
                                                            const Job& job,
                                                            const std::string& request_id,
                                                            unsigned version) const {
  if (created == BatchStore::Creation::kCreated) return std::nullopt;
  Problem p;
  if (created == BatchStore::Creation::kTooManyActive) {
    p = too_many_jobs(job.partner_id);
  } else if (created == BatchStore::Creation::kStorageFull) {
    p = problem(Status::too_many_requests, "batch-storage-full", "Too many records kept",
                "your kept jobs hold " + std::to_string(limits_.max_stored_records_per_partner) +
                    " records or more; they are deleted after their retention, download what "
                    "you need meanwhile");
  } else {
    p = problem(Status::conflict, "batch-upload-in-progress", "The first upload is still arriving",
                "an upload with this Idempotency-Key is in progress");
  }
  auto res = refusal(p, request_id, version);
  if (created != BatchStore::Creation::kExists)
    res.head.set(bhttp::field::retry_after,
                 created == BatchStore::Creation::kStorageFull ? "3600" : "60");
  return res;
}

Problem BatchApi::too_many_jobs(const std::string& partner_id) const {
  return problem(Status::too_many_requests, "too-many-batches", "Too many jobs",
                 "partner '" + partner_id + "' already has " +
                     std::to_string(limits_.max_active_jobs_per_partner) +
                     " jobs queued or running; wait for one to finish");
}

std::optional<Problem> BatchApi::admit_records(const Job& job, const RecordSink& sink,
                                               const Partner& partner, Admission& admission,
                                               const AuditSubmission& audit_submission) {
  // Each record counts against the daily quota as an interactive request would.
  RateLimiter::Decision quota;
  if (sink.valid() > 0) {
    auto refused = admission.take_quota(
        partner, sink.valid(), "this job's " + std::to_string(sink.valid()) + " valid records",
        quota);
    if (refused) return refused;
  }
  // Audited before it is queued: nothing reaches a registry that the trail does not hold.
  if (!audit_submission(job, sink.valid())) {
    return problem(Status::service_unavailable, "audit-unavailable", "Audit trail unavailable",
                   "the job could not be recorded in the audit trail, so it was not "
                   "accepted; retry later");
  }
  return std::nullopt;
}

bool BatchApi::replay(const Job& earlier, const Submission& s, const std::string& request_id,
                      unsigned version, BatchCall& call) const {
  const auto refuse = [&](const Problem& p) {
    call.res = refusal(p, request_id, version);
    return true;
  };
  if (earlier.fingerprint != s.fingerprint()) {
    return refuse(problem(Status::unprocessable_entity, "idempotency-key-reused",
                          "Idempotency-Key already used",
                          "this key submitted a job with other parameters; use a new key for a "
                          "new job",
                          {{"header:Idempotency-Key", "already used for job " + earlier.id}}));
  }
  if (earlier.state == JobState::kUploading) {
    // Its first attempt is still uploading (a stalled connection): refuse until it ends.
    return refuse(problem(Status::conflict, "batch-upload-in-progress",
                          "The first upload is still arriving",
                          "an upload with this Idempotency-Key is in progress; retry once it "
                          "has ended"));
  }
  call.batch_id = earlier.id;
  call.subject_count = earlier.counts.total;
  call.res = whole(job_response(Status::ok, earlier, request_id, version));
  call.res.head.set("Idempotent-Replayed", "true");
  return true;
}

std::optional<http::StreamedResponse> BatchApi::refuse_new_job(
    const http::RequestHead& head, const Submission& s, const Partner& partner,
    Admission& admission, const std::string& request_id, std::int64_t active_jobs) {
  const unsigned version = head.version();
  // A new submission is one request against the partner's limits, as an interactive one is
  // (a replay costs nothing: it creates nothing).
  RateLimiter::Decision limits;
  if (auto refused = admission.limit(partner, s.registry, "batch-verify", limits)) {
    auto res = refusal(*refused, request_id, version);
    Admission::decorate(res.head, &limits);
    return res;
  }
  if (active_jobs >= limits_.max_active_jobs_per_partner) {
    // Early, before the body is read; the creation checks again atomically.
    auto res = refusal(too_many_jobs(partner.id), request_id, version);
    res.head.set(bhttp::field::retry_after, "60");
    return res;
  }
  std::int64_t length = 0;
  if (const auto text = head[bhttp::field::content_length];
      !s.gzip && !text.empty() &&
      std::from_chars(text.data(), text.data() + text.size(), length).ec == std::errc{} &&
      length > limits_.max_bytes) {
    return refusal(problem(Status::payload_too_large, "payload-too-large", "Request body too large",
                           "a job may hold at most " + std::to_string(limits_.max_bytes) +
                               " bytes; split the file"),
                   request_id, version);
  }
  return std::nullopt;
}

std::optional<Problem> BatchApi::over_limits(const RecordSink& sink, std::uint64_t received) const {
  const auto too_large = [](const std::string& why) {
    return problem(Status::payload_too_large, "payload-too-large", "Request body too large", why);
  };
  if (sink.records() > limits_.max_records ||
      sink.decoded_bytes() > static_cast<std::uint64_t>(limits_.max_bytes)) {
    return too_large("a job may hold at most " + std::to_string(limits_.max_records) +
                     " records and " + std::to_string(limits_.max_bytes) +
                     " bytes (after decompression); split the file");
  }
  // Past the first MiB (a small file may compress very well): a decompression bomb.
  constexpr std::uint64_t kInflationGrace = 1 << 20;
  if (sink.gzip() && sink.decoded_bytes() > kInflationGrace &&
      sink.decoded_bytes() / std::max<std::uint64_t>(received, 1) >
          static_cast<std::uint64_t>(limits_.max_inflation_ratio)) {
    return too_large("the gzip body inflates more than " +
                     std::to_string(limits_.max_inflation_ratio) +
                     " times: refused as a decompression bomb");
  }
  if (sink.invalid() > limits_.max_invalid_records) {
    return problem(Status::bad_request, "too-many-invalid-records", "Too many invalid records",
                   "more than " + std::to_string(limits_.max_invalid_records) +
                       " lines of the file are invalid; nothing was kept. Validate a sample with "
                       "the interactive API, fix the file and submit again",
                   {{"body", "more than " + std::to_string(limits_.max_invalid_records) +
                                 " invalid records"}});
  }
  if (sink.stored_before() + sink.records() > limits_.max_stored_records_per_partner) {
    return too_large("your kept jobs and this one would hold more than " +
                     std::to_string(limits_.max_stored_records_per_partner) +
                     " records; download and wait for older jobs to expire, or split the file");
  }
  return std::nullopt;
}

std::shared_ptr<util::PoolTask> BatchApi::start_append(const asio::any_io_executor& ex,
                                                       const std::string& job_id,
                                                       std::vector<NewRecord> records) {
  return util::start_on_pool(
      io_, ex, [this, job_id, records = std::move(records)] { store_.append(job_id, records); });
}

boost::asio::awaitable<std::optional<Problem>> BatchApi::upload(http::BodyReader& body,
                                                                RecordSink& sink,
                                                                const std::string& request_id,
                                                                const std::string& partner_id) {
  const auto invalid = [](const std::string& error) {
    return problem(Status::bad_request, "validation", "The request is invalid", error,
                   {{"body", error}});
  };
  std::uint64_t received = 0;
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::shared_ptr<util::PoolTask> appending;
  for (;;) {
    auto [ec, piece] = co_await body.read();
    if (ec) {
      obs::info("batch_upload_interrupted",
                {{"request_id", request_id}, {"partner", partner_id}, {"error", ec.message()}});
      co_return interrupted(ec);
    }
    if (piece.empty()) {
      if (body.done()) break;
      continue;
    }
    received += piece.size();
    if (const std::string error = sink.feed(piece); !error.empty()) co_return invalid(error);
    if (auto refused = over_limits(sink, received)) co_return refused;
    // The store writes one batch while the next is read and parsed: one append in flight,
    // so they stay in order. Left running on an early return, the append ends before the
    // caller's discard, which io_ runs after it.
    if (auto records = sink.take(false); !records.empty()) {
      if (appending) co_await appending->wait();
      appending = start_append(executor, sink.job_id(), std::move(records));
    }
  }
  if (std::string error = sink.finish(); !error.empty()) co_return invalid(error);
  if (auto refused = over_limits(sink, received)) co_return refused;
  if (appending) co_await appending->wait();
  if (auto records = sink.take(true); !records.empty()) {
    appending = start_append(executor, sink.job_id(), std::move(records));
    co_await appending->wait();  // named: GCC 12 destroys a co_await's temporaries twice
  }
  if (sink.records() == 0) {
    co_return problem(Status::bad_request, "validation", "The request is invalid",
                      "the body holds no records", {{"body", "holds no records"}});
  }
  co_return std::nullopt;
}

http::Response BatchApi::accept(const batch::Job& job, const RecordSink& sink,
                                const std::string& request_id, unsigned version) const {
  obs::info("batch_job_accepted", {{"request_id", request_id},
                                   {"job", job.id},
                                   {"partner", job.partner_id},
                                   {"registry", job.registry},
                                   {"records", sink.records()},
                                   {"invalid", sink.records() - sink.valid()}});
  return job_response(Status::accepted, job, request_id, version);
}

}  // namespace lgsp::batch
