#include "batch/api.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>

#include "batch/input.hpp"
#include "domain/hashing.hpp"
#include "gateway/responses.hpp"
#include "gateway/validation.hpp"
#include "observability/log.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"
#include "util/media_type.hpp"

namespace lgsp::batch {

using gateway::parse_request;
using gateway::ParsedRequest;

using gateway::Admission;
using gateway::format_utc;
using gateway::Partner;
using gateway::RateLimiter;

namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace v1 = bus::v1;
using batch::JobState;
using http::Problem;
using http::problem;
using http::Status;

namespace {

constexpr std::string_view kPrefix = "/v1/batches";
/// Records stored per transaction during an upload.
constexpr std::size_t kAppendBatch = 500;
/// Result rows read per store query while streaming results.
constexpr std::size_t kResultPage = 1000;

std::string new_job_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no randomness for a job id");
  return "job-" + domain::to_hex(bytes, sizeof bytes);
}

/// A job id as this API makes them; anything else is answered 404 without a store lookup.
bool plausible_job_id(std::string_view id) {
  if (id.size() != 36 || id.substr(0, 4) != "job-") return false;
  return std::all_of(id.begin() + 4, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

json::value time_or_null(std::int64_t unix_ms) {
  if (unix_ms <= 0) return nullptr;
  return json::value(format_utc(unix_ms));
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
                 {"created_at", time_or_null(job.created_ms)},
                 {"started_at", time_or_null(job.started_ms)},
                 {"finished_at", time_or_null(job.finished_ms)},
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

}  // namespace

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
    call.res = whole(http::make_problem_response(p, request_id, version, true));
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
      call.res = whole(http::make_problem_response(
          problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                  "submit a job with POST; read one with GET /v1/batches/{id}"),
          request_id, version, true));
      call.res.head.set(bhttp::field::allow, "POST");
      co_return std::move(call);
    }
    co_return co_await submit(head, body, partner, request_id, admission, audit_submission);
  }

  // /v1/batches/{id} or /v1/batches/{id}/results
  std::string_view rest = std::string_view(path).substr(kPrefix.size() + 1);
  std::string_view id = rest.substr(0, rest.find('/'));
  std::string_view tail = rest.substr(id.size());
  call.batch_id = std::string(id);
  const bool results = tail == "/results";
  const std::string_view action = classify(head).second;
  if (!tail.empty() && !results) {
    co_return refuse(problem(Status::not_found, "not-found", "No such endpoint",
                             "see docs/api.md for the endpoints"));
  }
  const bool allowed =
      results ? head.method() == bhttp::verb::get
              : (head.method() == bhttp::verb::get || head.method() == bhttp::verb::delete_);
  if (!allowed) {
    call.res = whole(http::make_problem_response(
        problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                results ? "read results with GET" : "use GET to read a job, DELETE to cancel it"),
        request_id, version, true));
    call.res.head.set(bhttp::field::allow, results ? "GET" : "GET, DELETE");
    co_return std::move(call);
  }
  std::optional<batch::Job> job;
  if (plausible_job_id(id)) job = store_.find_job(id);
  // Another partner's job is as absent as one that never existed.
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
    if (batch::is_terminal(job->state) ||
        !store_.set_state(job->id, JobState::kCancelled, util::unix_ms_now())) {
      co_return refuse(problem(Status::conflict, "batch-finished", "The job has finished",
                               "job " + job->id + " is " +
                                   std::string(batch::to_string(job->state)) +
                                   "; only queued or running jobs can be cancelled"));
    }
    engine_.wake();
    obs::info("batch_job_cancelled", {{"job", job->id}, {"partner", partner.id}});
    call.res = whole(job_response(Status::ok, *store_.find_job(job->id), request_id, version));
    co_return std::move(call);
  }

  // Results: NDJSON (default) or CSV, up to the first unanswered record.
  bool csv = false;
  std::int64_t after = 0;
  std::vector<http::FieldError> errors;
  for (const auto& param : url->params()) {
    if (param.key == "format" && (param.value == "ndjson" || param.value == "csv")) {
      csv = param.value == "csv";
    } else if (param.key == "format") {
      errors.push_back({"format", "must be ndjson or csv"});
    } else if (param.key == "after_line") {
      try {
        std::size_t used = 0;
        after = std::stoll(param.value, &used);
        if (used != param.value.size() || after < 0) throw std::invalid_argument("after_line");
      } catch (const std::exception&) {
        errors.push_back({"after_line", "must be a non-negative integer"});
      }
    } else {
      errors.push_back({param.key, "unknown query parameter (format, after_line)"});
    }
  }
  if (!errors.empty()) co_return refuse(http::validation_problem(std::move(errors)));
  http::Response head_res{Status::ok, version};
  head_res.set(bhttp::field::content_type,
               csv ? "text/csv; charset=utf-8" : "application/x-ndjson");
  head_res.set(http::kRequestIdHeader, request_id);
  head_res.set("X-Batch-State", std::string(batch::to_string(job->state)));
  head_res.set("X-Batch-Done", std::to_string(job->counts.done));
  head_res.set("X-Batch-Total", std::to_string(job->counts.total));
  call.res.head = std::move(head_res);
  // Reads a page at a time on the connection's strand, so memory stays one page deep.
  struct Cursor {
    std::int64_t after;
    bool header_pending;
    bool done = false;
  };
  auto cursor = std::make_shared<Cursor>(Cursor{after, csv});
  call.res.next = [this, cursor, csv, job_id = job->id]() -> std::optional<std::string> {
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
      if (csv) {
        out += csv_line(*row.result);
      } else {
        out += *row.result;
        out += '\n';
      }
      cursor->after = row.line;
    }
    if (out.empty() && cursor->done) return std::nullopt;
    return out;
  };
  co_return std::move(call);
}

boost::asio::awaitable<BatchCall> BatchApi::submit(const http::RequestHead& head,
                                                   http::BodyReader& body, const Partner& partner,
                                                   const std::string& request_id,
                                                   Admission& admission,
                                                   const AuditSubmission& audit_submission) {
  const unsigned version = head.version();
  BatchCall call;
  const auto refuse = [&](const Problem& p) {
    call.res = whole(http::make_problem_response(p, request_id, version, true));
    return std::move(call);
  };

  // The job's parameters, from the query: nothing personal travels there.
  std::string registry, operation, purpose, procedure_code;
  std::vector<http::FieldError> errors;
  const auto url = boost::urls::parse_origin_form(head.target());
  for (const auto& param : url->params()) {
    std::string* into = param.key == "registry"         ? &registry
                        : param.key == "operation"      ? &operation
                        : param.key == "purpose"        ? &purpose
                        : param.key == "procedure_code" ? &procedure_code
                                                        : nullptr;
    if (into == nullptr) {
      errors.push_back(
          {param.key, "unknown query parameter (registry, operation, purpose, procedure_code)"});
    } else {
      *into = param.value;
    }
  }
  if (registry.empty()) {
    errors.push_back({"registry", "is required: one of " + registries::known_names()});
  } else if (const registries::Module* module = registries::find(registry);
             module == nullptr || !registries::has_operation(module->catalogue(), "batch-verify")) {
    errors.push_back({"registry", "must be one of " + registries::known_names()});
  }
  if (operation.empty()) {
    errors.push_back({"operation", "is required: verify"});
  } else if (operation != "verify") {
    errors.push_back({"operation", "must be verify (bulk lookups are not offered)"});
  }
  if (purpose.empty()) {
    errors.push_back({"purpose", "is required: why the records are verified"});
  } else if (purpose.size() > 200) {
    errors.push_back({"purpose", "must be at most 200 bytes"});
  }
  if (procedure_code.size() > 64) errors.push_back({"procedure_code", "must be at most 64 bytes"});
  call.registry = registry;
  call.purpose = purpose;
  call.procedure_code = procedure_code;
  if (!errors.empty()) co_return refuse(http::validation_problem(std::move(errors)));

  if (auto refused = admission.authorise(partner, registry, "batch-verify")) {
    co_return refuse(*refused);
  }
  if (auto refused = admission.purpose(partner, purpose)) co_return refuse(*refused);
  const std::string type = util::media_type(head[bhttp::field::content_type]);
  BatchFormat format;
  if (type == "application/x-ndjson" || type == "application/ndjson" ||
      type == "application/jsonl") {
    format = BatchFormat::kNdjson;
  } else if (type == "text/csv") {
    format = BatchFormat::kCsv;
  } else {
    co_return refuse(problem(Status::unsupported_media_type, "unsupported-media-type",
                             "Unsupported media type",
                             "send the records as Content-Type: application/x-ndjson (one JSON "
                             "object per line) or text/csv (a header row naming the members)"));
  }
  const std::string_view encoding_header = head[bhttp::field::content_encoding];
  const std::string encoding = util::media_type(encoding_header);
  if (!encoding_header.empty() && encoding != "identity" && encoding != "gzip") {
    co_return refuse(problem(Status::unsupported_media_type, "unsupported-media-type",
                             "Unsupported media type",
                             "the body may be sent as is or with Content-Encoding: gzip"));
  }
  const bool gzip = encoding == "gzip";

  // A retried submission: the job its first attempt created, if that attempt completed.
  const std::string key(head["Idempotency-Key"]);
  const std::string fingerprint = registry + "\n" + operation + "\n" + purpose + "\n" +
                                  procedure_code + "\n" + type + "\n" + encoding;
  if (key.size() > 255 ||
      std::any_of(key.begin(), key.end(), [](unsigned char c) { return c < 0x21 || c > 0x7e; })) {
    co_return refuse(http::validation_problem(
        {{"header:Idempotency-Key", "must be 1 to 255 visible ASCII characters"}}));
  }
  if (!key.empty()) {
    if (auto earlier = store_.find_by_idempotency_key(partner.id, key)) {
      if (earlier->fingerprint != fingerprint) {
        co_return refuse(problem(
            Status::unprocessable_entity, "idempotency-key-reused", "Idempotency-Key already used",
            "this key submitted a job with other parameters; use a new key "
            "for a new job",
            {{"header:Idempotency-Key", "already used for job " + earlier->id}}));
      }
      if (earlier->state != JobState::kUploading) {
        call.batch_id = earlier->id;
        call.subject_count = earlier->counts.total;
        call.res = whole(job_response(Status::ok, *earlier, request_id, version));
        call.res.head.set("Idempotent-Replayed", "true");
        co_return std::move(call);
      }
      // Its first attempt is still uploading (a stalled connection): refuse until it ends.
      co_return refuse(problem(Status::conflict, "batch-upload-in-progress",
                               "The first upload is still arriving",
                               "an upload with this Idempotency-Key is in progress; retry once "
                               "it has ended"));
    }
  }
  // A new submission is one request against the partner's limits, as an interactive one is
  // (a replay above costs nothing: it creates nothing).
  RateLimiter::Decision limits;
  if (auto refused = admission.limit(partner, registry, "batch-verify", limits)) {
    call.res = whole(http::make_problem_response(*refused, request_id, version, true));
    Admission::decorate(call.res.head, &limits);
    co_return std::move(call);
  }
  if (store_.active_jobs(partner.id) >= limits_.max_active_jobs_per_partner) {
    auto p = problem(Status::too_many_requests, "too-many-batches", "Too many jobs",
                     "partner '" + partner.id + "' already has " +
                         std::to_string(limits_.max_active_jobs_per_partner) +
                         " jobs queued or running; wait for one to finish");
    call.res = whole(http::make_problem_response(p, request_id, version, true));
    call.res.head.set(bhttp::field::retry_after, "60");
    co_return std::move(call);
  }
  if (const auto length = head[bhttp::field::content_length]; !gzip && !length.empty()) {
    std::int64_t n = 0;
    if (std::from_chars(length.data(), length.data() + length.size(), n).ec == std::errc{} &&
        n > limits_.max_bytes) {
      co_return refuse(problem(Status::payload_too_large, "payload-too-large",
                               "Request body too large",
                               "a job may hold at most " + std::to_string(limits_.max_bytes) +
                                   " bytes; split the file"));
    }
  }

  // The job, then its records as they arrive.
  batch::Job job;
  job.id = new_job_id();
  job.partner_id = partner.id;
  job.registry = registry;
  job.operation = operation;
  job.purpose = purpose;
  job.procedure_code = procedure_code;
  job.format = format == BatchFormat::kCsv ? "csv" : "ndjson";
  job.idempotency_key = key;
  job.fingerprint = fingerprint;
  job.request_id = request_id;
  v1::Request tmpl;
  tmpl.set_registry(registry);
  tmpl.set_operation(v1::OPERATION_VERIFY);
  tmpl.set_partner_id(partner.id);
  tmpl.set_purpose(purpose);
  tmpl.set_procedure_code(procedure_code);
  tmpl.set_name_matching(partner.diacritic_insensitive ? v1::NAME_MATCHING_DIACRITIC_INSENSITIVE
                                                       : v1::NAME_MATCHING_STRICT);
  tmpl.set_required_grade(partner.partial_is_enough ? v1::GRADE_PARTIAL : v1::GRADE_EXACT);
  job.template_request = tmpl.SerializeAsString();
  job.created_ms = util::unix_ms_now();
  job.last_progress_ms = job.created_ms;
  if (!store_.create_job(job)) {
    co_return refuse(problem(Status::conflict, "batch-upload-in-progress",
                             "The first upload is still arriving",
                             "an upload with this Idempotency-Key is in progress"));
  }
  call.batch_id = job.id;

  BatchRecordReader reader(format, gzip);
  std::vector<batch::NewRecord> pending;
  std::int64_t records = 0;
  std::int64_t valid = 0;
  const auto on_record = [&](BatchRecord&& rec) {
    ++records;
    batch::NewRecord r;
    r.line = rec.number;
    if (const auto* why = std::get_if<std::string>(&rec.value)) {
      r.result = invalid_line(rec.number, {{"body", *why}});
    } else {
      auto& obj = std::get<json::object>(rec.value);
      std::vector<http::FieldError> line_errors;
      if (const auto* p = obj.if_contains("purpose"); p == nullptr || p->is_null()) {
        obj["purpose"] = purpose;
      } else if (!p->is_string() || p->get_string() != purpose) {
        line_errors.push_back({"purpose", "must be absent or equal to the job's purpose"});
      }
      auto parsed = parse_request(registry, "verify", obj);
      if (auto* errs = std::get_if<std::vector<http::FieldError>>(&parsed)) {
        line_errors.insert(line_errors.end(), errs->begin(), errs->end());
      }
      if (!line_errors.empty()) {
        r.result = invalid_line(rec.number, line_errors);
      } else {
        // Only what differs per record: the job-wide fields travel in its template.
        auto& env = std::get<ParsedRequest>(parsed).envelope;
        env.clear_registry();
        env.clear_operation();
        env.clear_purpose();
        if (env.procedure_code() == procedure_code) env.clear_procedure_code();
        r.request = env.SerializeAsString();
        ++valid;
      }
    }
    pending.push_back(std::move(r));
    if (pending.size() >= kAppendBatch) {
      store_.append(job.id, pending);
      pending.clear();
    }
  };
  const auto discard = [&](const Problem& p) {
    store_.discard(job.id);
    call.batch_id.clear();
    return refuse(p);
  };
  try {
    for (;;) {
      auto [ec, piece] = co_await body.read();
      if (ec) {
        obs::info("batch_upload_interrupted",
                  {{"request_id", request_id}, {"partner", partner.id}, {"error", ec.message()}});
        if (ec == boost::beast::error::timeout) {
          co_return discard(problem(Status::request_timeout, "request-timeout",
                                    "Request not received in time",
                                    "the upload stalled: no data for the read timeout; nothing "
                                    "was kept, submit again"));
        }
        co_return discard(problem(Status::bad_request, "upload-incomplete",
                                  "The upload did not complete",
                                  "the body ended early or stalled (" + ec.message() +
                                      "); nothing was kept, submit again"));
      }
      if (piece.empty()) {
        if (body.done()) break;
        continue;
      }
      std::string error = reader.feed(piece, on_record);
      if (error.empty() &&
          (records > limits_.max_records ||
           reader.decoded_bytes() > static_cast<std::uint64_t>(limits_.max_bytes))) {
        co_return discard(problem(Status::payload_too_large, "payload-too-large",
                                  "Request body too large",
                                  "a job may hold at most " + std::to_string(limits_.max_records) +
                                      " records and " + std::to_string(limits_.max_bytes) +
                                      " bytes (after decompression); split the file"));
      }
      if (!error.empty()) {
        co_return discard(problem(Status::bad_request, "validation", "The request is invalid",
                                  error, {{"body", error}}));
      }
    }
    if (std::string error = reader.finish(on_record); !error.empty()) {
      co_return discard(problem(Status::bad_request, "validation", "The request is invalid", error,
                                {{"body", error}}));
    }
    if (records > limits_.max_records) {
      co_return discard(problem(Status::payload_too_large, "payload-too-large",
                                "Request body too large",
                                "a job may hold at most " + std::to_string(limits_.max_records) +
                                    " records; split the file"));
    }
    if (records == 0) {
      co_return discard(problem(Status::bad_request, "validation", "The request is invalid",
                                "the body holds no records", {{"body", "holds no records"}}));
    }
    if (!pending.empty()) store_.append(job.id, pending);
  } catch (const std::exception& e) {
    obs::error("batch_store_failed", {{"request_id", request_id}, {"error", e.what()}});
    store_.discard(job.id);
    co_return refuse(problem(Status::service_unavailable, "batch-store-unavailable",
                             "Jobs cannot be stored",
                             "the job store failed; nothing was kept, retry later"));
  }

  // Audited before it is queued: nothing reaches a registry that the trail does not hold.
  call.subject_count = valid;
  if (!audit_submission(job, valid)) {
    co_return discard(problem(Status::service_unavailable, "audit-unavailable",
                              "Audit trail unavailable",
                              "the job could not be recorded in the audit trail, so it was not "
                              "accepted; retry later"));
  }
  call.audited = true;
  store_.set_state(job.id, JobState::kQueued, util::unix_ms_now());
  engine_.wake();
  obs::info("batch_job_accepted", {{"request_id", request_id},
                                   {"job", job.id},
                                   {"partner", partner.id},
                                   {"registry", registry},
                                   {"records", records},
                                   {"invalid", records - valid}});
  call.res = whole(job_response(Status::accepted, *store_.find_job(job.id), request_id, version));
  co_return std::move(call);
}

}  // namespace lgsp::batch
