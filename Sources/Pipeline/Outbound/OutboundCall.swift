import JSONCore

/// One outbound HTTP call asked for by a pipeline function (`axios`): the request as the worker
/// describes it is checked against the pipeline's policy here, in the service, and its outcome goes
/// back to the worker as the JSON that the worker's axios turns into a response or an axios error.
enum OutboundCall {
    enum Result: Sendable {
        case response(status: Int, statusText: String, headers: [(String, String)], body: [UInt8])
        case refused(code: String, message: String)

        init(_ outcome: OutboundHTTP.Outcome) {
            switch outcome {
            case .response(let status, let statusText, let headers, let body):
                self = .response(status: status, statusText: statusText, headers: headers, body: body)
            case .failure(let code, let message): self = .refused(code: code, message: message)
            }
        }

        var json: [UInt8] {
            switch self {
            case .response(let status, let statusText, let headers, let body):
                var h = JSONObject()
                for (k, v) in headers { h[k] = .string(v) }
                return JSON.serialize(["status": .int(Int64(status)), "statusText": .string(statusText), "headers": .object(h),
                                       "data": .string(String(decoding: body, as: UTF8.self))])
            case .refused(let code, let message):
                return JSON.serialize(["error": ["code": .string(code), "message": .string(message)]])
            }
        }
    }

    static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    /// Headers the service sets itself (framing and routing), whatever the function says.
    static let reservedHeaders: Set<String> = ["host", "content-length", "transfer-encoding", "connection", "expect", "upgrade", "te", "trailer"]
    static let maxRequestBodyBytes = 1024 * 1024

    /// Checks and makes the call; `done` gets the outcome and, when a request was attempted or
    /// refused, its record for the report (method, URL without query, status or error code, ms).
    static func perform(_ body: ArraySlice<UInt8>, function: Int, policy: OutboundPolicy, callNumber: Int, deadlineNS: Int64,
                        queueing: Bool, client: @autoclosure () -> OutboundHTTP,
                        done: @escaping @Sendable (Result, PipelineHTTPCall?) -> Void) {
        let start = ProgressBoard.nowNS()
        guard let asked = Wire.OutboundRequest(json: body) else {
            return done(.refused(code: "ERR_BAD_OPTION", message: "invalid request"), nil)
        }
        let (method, text) = (asked.method, asked.url)
        let record = { @Sendable (url: String, status: Int?, error: String?) in
            PipelineHTTPCall(function: function, method: method, url: url, status: status, error: error,
                             milliseconds: Int((ProgressBoard.nowNS() - start) / 1_000_000))
        }
        func refuse(_ code: String, _ message: String, url: String) {
            done(.refused(code: code, message: message), record(url, nil, code))
        }
        guard let url = OutboundURL(text) else { return refuse("ERR_INVALID_URL", "Invalid URL", url: "(invalid)") }
        guard policy.permits(url) else {
            return refuse("ERR_HOST_NOT_ALLOWED", "host \(url.host):\(url.port) is not in pipelines.http.allow", url: url.withoutQuery)
        }
        guard callNumber <= policy.maxRequestsPerCall else {
            return refuse("ERR_TOO_MANY_REQUESTS", "at most \(policy.maxRequestsPerCall) requests per function call", url: url.withoutQuery)
        }
        guard methods.contains(method) else { return refuse("ERR_BAD_OPTION", "unsupported method \(method)", url: url.withoutQuery) }
        var headers: [(String, String)] = []
        for (name, value) in asked.headers {
            guard let v = value, isToken(name), !v.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                return refuse("ERR_INVALID_HEADER", "invalid header \(name)", url: url.withoutQuery)
            }
            if !reservedHeaders.contains(name.lowercased()) { headers.append((name, v)) }
        }
        let requestBody = asked.data.map { Array($0.utf8) }
        if let requestBody, requestBody.count > maxRequestBodyBytes {
            return refuse("ERR_BAD_REQUEST", "request body over \(maxRequestBodyBytes) bytes", url: url.withoutQuery)
        }
        let remainingMS = Int((deadlineNS - start) / 1_000_000)
        let askedMS = Int(asked.timeoutMS)
        let timeoutMS = askedMS > 0 ? min(askedMS, remainingMS) : remainingMS
        guard timeoutMS > 0 else { return refuse("ECONNABORTED", "timeout of \(max(askedMS, 0))ms exceeded", url: url.withoutQuery) }
        let request = OutboundHTTP.Request(method: method, url: url, headers: headers, body: requestBody, timeoutMS: timeoutMS,
                                           maxResponseBytes: policy.maxResponseBytes)
        client().perform(request, queueing: queueing) { outcome in
            switch outcome {
            case .response(let status, _, _, _):
                done(Result(outcome), record(url.withoutQuery, status, nil))
            case .failure(let code, var message):
                if code == "ECONNABORTED" { message = "timeout of \(timeoutMS)ms exceeded" }
                if code == "ERR_BAD_RESPONSE" { message = "maxContentLength size of \(policy.maxResponseBytes) exceeded" }
                done(.refused(code: code, message: message), record(url.withoutQuery, nil, code))
            }
        }
    }

    /// An HTTP header name (RFC 9110 token).
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 256 && name.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }
}

/// An outbound call a pipeline function made, for `pipeline test` and the logs.
public struct PipelineHTTPCall: Sendable, Equatable {
    /// The function's index in its pipeline.
    public var function: Int
    public var method: String
    /// Scheme, host, port and path: never the query (it may carry secrets). Shown by `pipeline test`;
    /// never logged, since webhook URLs keep their secret in the path.
    public var url: String
    public var status: Int?
    /// The axios error code when the call failed or was refused.
    public var error: String?
    public var milliseconds: Int

    public init(function: Int, method: String, url: String, status: Int?, error: String?, milliseconds: Int) {
        self.function = function
        self.method = method
        self.url = url
        self.status = status
        self.error = error
        self.milliseconds = milliseconds
    }
}
