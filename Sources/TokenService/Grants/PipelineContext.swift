import OAuthWire
import JSONCore

/// Builds the GenAuth `context` object that pipeline functions receive.
enum PipelineContext {
    /// Form parameters that are credentials never reach a pipeline.
    static let secretParameters: Set<String> = ["client_secret", "client_assertion", "password", "refresh_token", "code", "code_verifier",
                                                "subject_token", "actor_token"]
    /// Request headers that are credentials never reach a pipeline (lower-case); the operator may add more.
    static let credentialHeaders: Set<String> = ["authorization", "cookie", "dpop", "proxy-authorization"]

    /// A grant at the token endpoint (client_credentials, token exchange): `user` is null.
    static func oauth(grantType: String, client: RegisteredClient, scope: [String], audience: String, form: FormParameters,
                      info: RequestInfo, redacting: Set<String>) -> JSONObject {
        var body = JSONObject()
        for (k, v) in form.values.sorted(by: { $0.key < $1.key }) where !secretParameters.contains(k) { body.appendNew(k, .string(v)) }
        var headers = JSONObject()
        for (name, value) in info.headers() where !isRedacted(name, redacting) { headers[name] = .string(value) }
        let request: JSONObject = ["ip": .string(info.remoteIP), "body": .object(body), "query": [:], "geo": [:], "headers": .object(headers)]
        return common(protocol: "oauth", connection: nil, client: client, grantType: grantType, scope: scope,
                      audience: audience, target: "programmaticAccount", request: request)
    }

    static func isRedacted(_ name: String, _ operatorList: Set<String>) -> Bool {
        let lower = name.lowercased()
        return credentialHeaders.contains(lower) || operatorList.contains(lower)
    }

    /// The gateway's context, with the fields the service decides written over it; credential headers
    /// the gateway passed along are dropped.
    static func user(gatewayContext: JSONObject, client: RegisteredClient, grantType: String, scope: [String], audience: String,
                     redacting: Set<String>) -> JSONObject {
        let request = gatewayContext["request"]?.objectValue ?? [:]
        var headers = request["headers"]?.objectValue ?? [:]
        for name in headers.keys where isRedacted(name, redacting) { headers[name] = nil }
        var req: JSONObject = ["ip": request["ip"] ?? "", "body": request["body"] ?? [:], "query": request["query"] ?? [:],
                               "geo": request["geo"] ?? [:], "headers": .object(headers)]
        for (k, v) in request where req[k] == nil { req[k] = v }
        var o = common(protocol: gatewayContext["protocol"]?.stringValue ?? "oidc", connection: gatewayContext["connection"]?.stringValue,
                       client: client, grantType: grantType, scope: scope, audience: audience, target: "user", request: req)
        for (k, v) in gatewayContext where o[k] == nil { o[k] = v }
        return o
    }

    private static func common(protocol proto: String, connection: String?, client: RegisteredClient, grantType: String,
                               scope: [String], audience: String, target: String, request: JSONObject) -> JSONObject {
        var o = JSONObject()
        o.appendNew("protocol", .string(proto))
        if let connection { o.appendNew("connection", .string(connection)) }
        o.appendNew("appId", .string(client.id))
        o.appendNew("clientId", .string(client.id))
        o.appendNew("appName", .string(client.displayName))
        o.appendNew("grantType", .string(grantType))
        o.appendNew("scope", .array(scope.map { .string($0) }))
        o.appendNew("audience", .string(audience))
        o.appendNew("accessTokenTarget", .string(target))
        o.appendNew("request", .object(request))
        o.appendNew("ip", request["ip"] ?? "")
        return o
    }
}
