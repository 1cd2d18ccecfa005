import ArgumentParser
import DroverProto

/// `drover certs`: certificates for a cluster with mutual TLS.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Make certificates for a cluster with mutual TLS.",
        subcommands: [Create.self]
    )

    /// `drover certs create DIR`: a CA and one certificate per role.
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Make a CA and one certificate per role (scheduler, worker, nanny, client) in DIR.",
            discussion: """
                DIR gets ca.pem, ca-key.pem, and <role>.pem with <role>-key.pem for each role; keys are \
                mode 0600, DIR 0700, and nothing is overwritten. Each certificate names its role \
                (drover:role:<role>) and is valid for localhost, 127.0.0.1 and the --hosts. Give every \
                process the CA and its role's certificate and key: --tls-ca-file DIR/ca.pem \
                --tls-cert DIR/worker.pem --tls-key DIR/worker-key.pem. Keep ca-key.pem off the cluster.
                """
        )

        @Argument(help: "The directory to write (created if missing).")
        var directory: String

        @Option(help: "Host names or addresses the servers are reached at, comma-separated.")
        var hosts = ""

        @Option(help: "Days the certificates are valid.")
        var days = 365

        func run() throws {
            guard days > 0 else { throw ValidationError("--days must be at least 1.") }
            let hosts = hosts.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            do {
                let made = try CertificateDirectory.create(
                    at: directory, hosts: hosts, validity: .seconds(days * 86_400))
                print("CA \(made.caFile)")
                for role in Role.allCases {
                    print("\(role) \(made.certificateFile(for: role)) \(made.keyFile(for: role))")
                }
            } catch {
                throw CommandFailure(error.message)
            }
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
