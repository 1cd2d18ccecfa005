import ArgumentParser
import DroverProto
import Foundation

/// The TLS flags every role takes (Dask's names), each also read from the environment
/// (`DROVER_TLS_CA_FILE`, `DROVER_TLS_CERT`, `DROVER_TLS_KEY`, `DROVER_REQUIRE_ENCRYPTION`), so that
/// systemd units take them from `drover.env`.
struct TLSOptions: ParsableArguments {
    @Option(
        name: .customLong("tls-ca-file"),
        help: "The CA certificate (PEM) every peer's certificate must be signed by ($DROVER_TLS_CA_FILE).")
    var caFile: String?

    @Option(name: .customLong("tls-cert"), help: "This process's certificate (PEM) ($DROVER_TLS_CERT).")
    var certificate: String?

    @Option(name: .customLong("tls-key"), help: "This process's private key (PEM) ($DROVER_TLS_KEY).")
    var key: String?

    @Flag(
        name: .customLong("require-encryption"),
        help: "Refuse to start without TLS ($DROVER_REQUIRE_ENCRYPTION=1).")
    var requireEncryption = false

    /// The settings from the flags, or else the environment.
    ///
    /// - Throws: `ValidationError` with the ``SecurityError``'s sentence when they cannot work.
    func security(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Security {
        func value(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        let required = ["1", "true", "yes"].contains(environment["DROVER_REQUIRE_ENCRYPTION"]?.lowercased() ?? "")
        let security = Security(
            caFile: value(caFile, "DROVER_TLS_CA_FILE"), certificateFile: value(certificate, "DROVER_TLS_CERT"),
            keyFile: value(key, "DROVER_TLS_KEY"), requireEncryption: requireEncryption || required)
        do {
            try security.validate()
        } catch {
            throw ValidationError(error.message)
        }
        return security
    }

    /// The settings, and the scheduler's address checked against them (a `tls://` address needs
    /// certificates): what a worker and a nanny start from.
    func scheduler(_ address: String) throws -> (security: Security, endpoint: HostAndPort) {
        let security = try security()
        do {
            return (security, try Transports.endpoint(address, role: "scheduler", security: security))
        } catch {
            throw ValidationError(error.message)
        }
    }
}
