// A small backend that accepts tokenservice access tokens (docs/backend-guide.md walks through it):
//   example-backend --issuer http://127.0.0.1:8080 --audience https://api.example.com --port 8090
// GET /invoices needs a token with scope invoices:read; GET /me answers with the token's subject.
// With --dpop-base-url URL (the URL clients call it by), DPoP-bound tokens are accepted with a proof.
// With --trust-domain D it is a workload of that trust domain: POST /transactions needs a Txn-Token
// (header Txn-Token) with scope invoices:read (or --txn-scope); with --next URL it calls the next
// workload's /transactions passing the same Txn-Token on, unmodified (docs/transaction-tokens.md).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import TokenVerifier
import TokenVerifierHummingbird

struct BackendContext: AccessTokenRequestContext, TransactionTokenRequestContext {
    var coreContext: CoreRequestContextStorage
    var accessToken: VerifiedAccessToken?
    var transactionToken: VerifiedTransactionToken?
    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    print("""
        usage: example-backend [--issuer URL] [--audience AUD] [--port N] [--jwks URL] [--refetch-seconds S] [--dpop-base-url URL]
                               [--trust-domain D [--txn-scope S] [--name NAME] [--next URL]]
          --issuer           the token service's issuer (default http://127.0.0.1:8080)
          --audience         the audience tokens must carry (default https://api.example.com)
          --port             where to listen on 127.0.0.1 (default 8090)
          --jwks             the JWKS URL (default ISSUER/.well-known/jwks.json)
          --refetch-seconds  at most one JWKS refetch per this many seconds for an unknown kid (default 30)
          --dpop-base-url    the URL clients call this backend by: accept DPoP-bound tokens with a proof
          --trust-domain     act as a workload of this trust domain: POST /transactions needs a Txn-Token
          --txn-scope        the scope that Txn-Token must carry (default invoices:read)
          --name             this workload's name in the answers of /transactions (default example-backend)
          --next             the next workload's base URL: /transactions calls NEXT/transactions with the same Txn-Token
        GET /invoices needs scope invoices:read; GET /me answers with the token's subject; GET /healthz.
        """)
    exit(0)
}

func option(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: "--" + name), i + 1 < args.count else { return fallback }
    return args[i + 1]
}

let issuer = option("issuer", "http://127.0.0.1:8080")
let audience = option("audience", "https://api.example.com")
let port = Int(option("port", "8090")) ?? 8090
var cacheConfig = JWKSCache.Configuration(url: URL(string: option("jwks", issuer + "/.well-known/jwks.json"))!)
cacheConfig.refetchInterval = .seconds(Int64(option("refetch-seconds", "30")) ?? 30)
let verifier = AccessTokenVerifier(issuer: issuer, audiences: [audience], keys: JWKSCache(configuration: cacheConfig))
// DPoP-bound tokens are accepted only with a proof, and only when the backend knows its public URL.
let dpop: DPoPRequirement = CommandLine.arguments.contains("--dpop-base-url") ? .verifyProofs(publicBaseURL: option("dpop-base-url", "")) : .refuseBoundTokens

let router = Router(context: BackendContext.self)
router.group("invoices").add(middleware: AccessTokenMiddleware(verifier: verifier, requiredScopes: ["invoices:read"], dpop: dpop))
    .get { _, context in
        #"{"invoices":[],"for":"\#(context.accessToken?.subject ?? "")"}"#
    }
router.group("me").add(middleware: AccessTokenMiddleware(verifier: verifier, dpop: dpop))
    .get { _, context in
        #"{"sub":"\#(context.accessToken?.subject ?? "")","client_id":"\#(context.accessToken?.clientID ?? "")","dpop_jkt":"\#(context.accessToken?.dpopThumbprint ?? "")"}"#
    }
router.get("healthz") { _, _ in "ok" }
if CommandLine.arguments.contains("--trust-domain") {
    let txnVerifier = TransactionTokenVerifier(trustDomain: option("trust-domain", ""), issuer: issuer, keys: JWKSCache(configuration: cacheConfig))
    let name = option("name", "example-backend")
    let next = CommandLine.arguments.contains("--next") ? URL(string: option("next", "") + "/transactions") : nil
    let txnScope = option("txn-scope", "invoices:read")
    router.group("transactions").add(middleware: TransactionTokenMiddleware(verifier: txnVerifier, requiredScopes: [txnScope]))
        .post { _, context -> Response in
            guard let txn = context.transactionToken else { return Response(status: .unauthorized) }
            var answer = #"{"workload":"\#(name)","txn":"\#(txn.claims.transactionID)","sub":"\#(txn.claims.subject)","req_wl":"\#(txn.claims.requestingWorkloads.joined(separator: ","))""#
            if let next {
                // The Txn-Token goes on exactly as it came (draft-ietf-oauth-transaction-tokens §10.2).
                var call = URLRequest(url: next)
                call.httpMethod = "POST"
                call.setValue(txn.compact, forHTTPHeaderField: TransactionTokenVerifier.headerName)
                let (data, response) = try await URLSession.shared.data(for: call)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                answer += #","next_status":\#(status),"next":\#(status == 200 ? String(decoding: data, as: UTF8.self) : "null")"#
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer + "}")))
        }
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: Logger(label: "example-backend"))
try await app.runService()
