/// The JavaScript that runs before any pipeline function (`bootstrap.js` beside this file): GenAuth
/// globals (`env`, `log`, `console`, `axios`, `authing`, `require`), the claim methods, the per-call
/// runner, and finally a deep freeze of every intrinsic — reachable from the global object or named by
/// the spec (iterator, generator and async-function prototypes) — with RegExp's legacy statics removed
/// or cleared on every entry, so that no call can leave state behind for the next one. Evaluated once
/// per worker to a function that takes the host's `fetch` (it hands an outbound HTTP request to the
/// service and returns its call id) and lodash (or undefined where it is not installed), and returns the
/// runner's entry points, which are never reachable from user code.
///
/// Runs may interleave: a function awaiting `axios` parks its run while others go on. Every entry
/// point names its run and makes it the active one; each VM entry runs the code of that one run only
/// (its microtasks drain before the entry returns, and runs share no reachable objects).
package enum Bootstrap {
    /// `bootstrap.js`, embedded in the binary at build time (SwiftPM `embedInCode`).
    package static let source = String(decoding: PackageResources.bootstrap_js, as: UTF8.self)
}
