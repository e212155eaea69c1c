import Claims
import Foundation
public import Hummingbird
import HTTPTypes
public import TokenVerifier

/// A request context that can carry the verified Transaction Token.
public protocol TransactionTokenRequestContext: RequestContext {
    var transactionToken: VerifiedTransactionToken? { get set }
}

/// Hummingbird middleware for the workloads of a trust domain: requires exactly one `Txn-Token` header
/// (draft-ietf-oauth-transaction-tokens-10 §10.1; never `Authorization`) with a Txn-Token the verifier
/// accepts and, when given, the scopes; puts the verified token in the context, where a handler reads the
/// transaction's subject and context and finds the token to pass on unmodified. A missing or invalid
/// token answers 401, missing scopes 403 (JSON `{"error": …}`; the reason is logged, the token never).
public struct TransactionTokenMiddleware<Context: TransactionTokenRequestContext>: RouterMiddleware {
    public static var headerName: HTTPField.Name { HTTPField.Name(TransactionTokenVerifier.headerName)! }
    public let verifier: TransactionTokenVerifier
    public let requiredScopes: Set<String>

    public init(verifier: TransactionTokenVerifier, requiredScopes: Set<String> = []) {
        self.verifier = verifier
        self.requiredScopes = requiredScopes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let values = request.headers[values: Self.headerName]
        guard values.count == 1 else {
            context.logger.info("Txn-Token refused", metadata: ["reason": "\(values.isEmpty ? "no" : "more than one") Txn-Token header"])
            return Self.refusal(.unauthorized, values.isEmpty ? "txn_token_required" : "invalid_txn_token")
        }
        let token: VerifiedTransactionToken
        do { token = try await verifier.verify(values[0], now: Int64(Date().timeIntervalSince1970)) } catch {
            context.logger.info("Txn-Token refused", metadata: ["reason": "\(error)"])
            return Self.refusal(.unauthorized, "invalid_txn_token")
        }
        guard requiredScopes.isSubset(of: token.scopes) else {
            context.logger.info("Txn-Token refused", metadata: ["reason": "scope", "txn": "\(token.claims.transactionID)"])
            return Self.refusal(.forbidden, "insufficient_scope")
        }
        var context = context
        context.transactionToken = token
        return try await next(request, context)
    }

    static func refusal(_ status: HTTPResponse.Status, _ error: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: #"{"error":"\#(error)"}"#)))
    }
}
