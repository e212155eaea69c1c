internal import CJavaScriptCore

/// An exception thrown by JavaScript (or the VM terminating it), as text.
package struct JSException: Error, CustomStringConvertible {
    package let description: String
}

/// A JavaScript value owned by a `JSRuntime`; only the runtime can look inside.
struct JSHandle {
    fileprivate let ref: JSValueRef
}

/// The one thin unsafe layer over JavaScriptCore's C API. One runtime = one context group (VM)
/// with one global context, used from a single thread only (a group must never be shared).
package final class JSRuntime {
    private let group: JSContextGroupRef
    let context: JSGlobalContextRef
    /// The class of host functions; each one's private data is its retained `HostFunction` box.
    private var hostClass: JSClassRef?
    private var hostFunctions: [Unmanaged<HostFunction>] = []

    package init() throws(JSException) {
        guard let group = JSContextGroupCreate() else { throw JSException(description: "JSContextGroupCreate failed") }
        guard let context = JSGlobalContextCreateInGroup(group, nil) else {
            JSContextGroupRelease(group)
            throw JSException(description: "JSGlobalContextCreateInGroup failed")
        }
        self.group = group
        self.context = context
        let message = JSStringCreateWithUTF8CString("eval and Function are disabled in pipelines")
        JSGlobalContextSetEvalEnabled(context, false, message)
        JSStringRelease(message)
    }

    deinit {
        JSGlobalContextRelease(context)
        JSContextGroupRelease(group)
        if let hostClass { JSClassRelease(hostClass) }
        hostFunctions.forEach { $0.release() }
    }

    /// A JavaScript function that calls `body` with its arguments converted to strings and returns
    /// the string it gives (or `undefined` for nil). The closure lives as long as the runtime.
    func makeHostFunction(_ body: @escaping ([String]) -> String?) -> JSHandle {
        if hostClass == nil {
            var definition = kJSClassDefinitionEmpty
            definition.callAsFunction = { ctx, function, _, count, arguments, _ in
                guard let ctx, let function, let data = JSObjectGetPrivate(function) else { return JSValueMakeUndefined(ctx) }
                let box = Unmanaged<HostFunction>.fromOpaque(data).takeUnretainedValue()
                var strings: [String] = []
                for i in 0..<count {
                    guard let js = JSValueToStringCopy(ctx, arguments?[i], nil) else { strings.append(""); continue }
                    strings.append(JSRuntime.swiftString(js))
                    JSStringRelease(js)
                }
                guard let result = box.body(strings) else { return JSValueMakeUndefined(ctx) }
                let js = JSStringCreateWithUTF8CString(result)
                defer { JSStringRelease(js) }
                return JSValueMakeString(ctx, js)
            }
            hostClass = JSClassCreate(&definition)
        }
        let box = Unmanaged.passRetained(HostFunction(body))
        hostFunctions.append(box)
        return JSHandle(ref: JSObjectMake(context, hostClass, box.toOpaque()))
    }

    private static func swiftString(_ js: JSStringRef) -> String {
        let capacity = JSStringGetMaximumUTF8CStringSize(js)
        var buffer = [CChar](repeating: 0, count: capacity)
        let n = JSStringGetUTF8CString(js, &buffer, capacity)
        return String(decoding: buffer.prefix(Swift.max(0, n - 1)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func evaluate(_ script: String, sourceURL: String, startingLine: Int32 = 1) throws(JSException) -> JSHandle {
        let s = JSStringCreateWithUTF8CString(script)
        let url = JSStringCreateWithUTF8CString(sourceURL)
        defer { JSStringRelease(s); JSStringRelease(url) }
        var exception: JSValueRef?
        let result = JSEvaluateScript(context, s, nil, url, startingLine, &exception)
        if let exception { throw JSException(description: string(exception)) }
        guard let result else { throw JSException(description: "evaluation returned nothing") }
        return JSHandle(ref: result)
    }

    /// Checks syntax without running anything; the error names the line.
    package func checkSyntax(_ script: String, sourceURL: String, startingLine: Int32 = 1) throws(JSException) {
        let s = JSStringCreateWithUTF8CString(script)
        let url = JSStringCreateWithUTF8CString(sourceURL)
        defer { JSStringRelease(s); JSStringRelease(url) }
        var exception: JSValueRef?
        if !JSCheckScriptSyntax(context, s, url, startingLine, &exception) {
            throw JSException(description: exception.map(string) ?? "syntax error")
        }
    }

    func property(_ object: JSHandle, _ name: String) throws(JSException) -> JSHandle {
        guard let obj = JSValueToObject(context, object.ref, nil) else { throw JSException(description: "not an object") }
        let n = JSStringCreateWithUTF8CString(name)
        defer { JSStringRelease(n) }
        var exception: JSValueRef?
        let v = JSObjectGetProperty(context, obj, n, &exception)
        if let exception { throw JSException(description: string(exception)) }
        guard let v else { throw JSException(description: "no property \(name)") }
        return JSHandle(ref: v)
    }

    /// Keeps a value alive across calls until `release`.
    func retain(_ v: JSHandle) -> JSHandle {
        JSValueProtect(context, v.ref)
        return v
    }

    func release(_ v: JSHandle) { JSValueUnprotect(context, v.ref) }

    /// Calls `function` with `arguments`. Microtasks queued by the call have run when this returns.
    func call(_ function: JSHandle, _ arguments: [JSHandle]) throws(JSException) -> JSHandle {
        let arguments: [JSValueRef?] = arguments.map(\.ref)
        guard let fn = JSValueToObject(context, function.ref, nil), JSObjectIsFunction(context, fn) else {
            throw JSException(description: "not a function")
        }
        var exception: JSValueRef?
        let result: JSValueRef? = arguments.withUnsafeBufferPointer { args in
            JSObjectCallAsFunction(context, fn, nil, args.count, args.baseAddress, &exception)
        }
        if let exception { throw JSException(description: string(exception)) }
        guard let result else { throw JSException(description: "execution was terminated") }
        return JSHandle(ref: result)
    }

    func makeString(_ s: String) -> JSHandle {
        let js = JSStringCreateWithUTF8CString(s)
        defer { JSStringRelease(js) }
        return JSHandle(ref: JSValueMakeString(context, js))
    }

    /// A string from UTF-8 bytes (invalid sequences become U+FFFD).
    func makeString(utf8 bytes: ArraySlice<UInt8>) -> JSHandle {
        var cString = [UInt8](bytes)
        cString.append(0)
        let js = cString.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { JSStringCreateWithUTF8CString($0.baseAddress) } }
        defer { JSStringRelease(js) }
        return JSHandle(ref: JSValueMakeString(context, js))
    }

    func makeBool(_ b: Bool) -> JSHandle { JSHandle(ref: JSValueMakeBoolean(context, b)) }

    func makeNumber(_ n: Double) -> JSHandle { JSHandle(ref: JSValueMakeNumber(context, n)) }
    func makeUndefined() -> JSHandle { JSHandle(ref: JSValueMakeUndefined(context)) }

    func bool(_ value: JSHandle) -> Bool { JSValueToBoolean(context, value.ref) }

    func number(_ value: JSHandle) -> Double { JSValueToNumber(context, value.ref, nil) }

    /// The value as a string, in UTF-8 bytes.
    func utf8(_ value: JSHandle) -> [UInt8] {
        guard let js = JSValueToStringCopy(context, value.ref, nil) else { return [] }
        defer { JSStringRelease(js) }
        let capacity = JSStringGetMaximumUTF8CStringSize(js)
        return [UInt8](unsafeUninitializedCapacity: capacity) { buf, count in
            let n = buf.withMemoryRebound(to: CChar.self) { JSStringGetUTF8CString(js, $0.baseAddress, capacity) }
            count = Swift.max(0, n - 1)
        }
    }

    private func string(_ value: JSValueRef) -> String {
        guard let js = JSValueToStringCopy(context, value, nil) else { return "(unprintable)" }
        defer { JSStringRelease(js) }
        return Self.swiftString(js)
    }

    func isFunction(_ value: JSHandle) -> Bool {
        guard let o = JSValueToObject(context, value.ref, nil) else { return false }
        return JSObjectIsFunction(context, o)
    }

    /// CPU-time limit for each outermost VM entry; the VM terminates the script past it.
    func setTimeLimit(seconds: Double) {
        JSContextGroupSetExecutionTimeLimit(group, seconds, { _, _ in true }, nil)
    }

    func clearTimeLimit() { JSContextGroupClearExecutionTimeLimit(group) }
}

/// The Swift side of a host function (see `JSRuntime.makeHostFunction`).
private final class HostFunction {
    let body: ([String]) -> String?
    init(_ body: @escaping ([String]) -> String?) { self.body = body }
}
