import Glibc

/// How a Drover process secures its connections: mutual TLS with certificates from one CA, or
/// plaintext (Dask's `distributed.Security`).
///
/// With TLS every server asks its peers for a certificate signed by ``caFile`` and offers its own
/// (``certificateFile``, ``keyFile``); every client checks the server's certificate against the
/// same CA and presents its own. ``requireEncryption`` makes a process refuse to start without TLS.
public struct Security: Sendable, Hashable {
    /// The PEM file of the certificate authority whose certificates this process trusts.
    public var caFile: String?
    /// The PEM file of this process's certificate.
    public var certificateFile: String?
    /// The PEM file of this process's private key.
    public var keyFile: String?
    /// Whether this process refuses to talk without TLS (Dask's `require-encryption`).
    public var requireEncryption: Bool

    /// No encryption and no authentication: anyone who reaches the ports may use the cluster.
    public static let insecurePlaintext = Security()

    /// Security from files.
    ///
    /// - Parameters:
    ///   - caFile: The CA certificate (PEM) peers' certificates must be signed by.
    ///   - certificateFile: This process's certificate (PEM).
    ///   - keyFile: This process's private key (PEM).
    ///   - requireEncryption: Whether to refuse to start without TLS.
    public init(
        caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
        requireEncryption: Bool = false
    ) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.requireEncryption = requireEncryption
    }

    /// Whether connections use mutual TLS (the CA, the certificate and the key are all given).
    public var isEncrypted: Bool { tlsFiles != nil }

    /// The three files of mutual TLS, when all are given.
    var tlsFiles: (ca: String, certificate: String, key: String)? {
        guard let caFile, let certificateFile, let keyFile else { return nil }
        return (caFile, certificateFile, keyFile)
    }

    /// Checks that the settings make sense together and that the files exist.
    ///
    /// - Throws: ``SecurityError`` naming the missing setting or file.
    public func validate() throws(SecurityError) {
        let given = [("--tls-ca-file", caFile), ("--tls-cert", certificateFile), ("--tls-key", keyFile)]
        let missing = given.filter { $0.1 == nil }.map(\.0)
        if missing.count == 3 {
            if requireEncryption {
                throw SecurityError(
                    "--require-encryption is set, but no certificates are: pass --tls-ca-file, --tls-cert and "
                        + "--tls-key (or DROVER_TLS_CA_FILE, DROVER_TLS_CERT, DROVER_TLS_KEY).")
            }
            return
        }
        guard missing.isEmpty else {
            throw SecurityError(
                "TLS needs --tls-ca-file, --tls-cert and --tls-key together; missing: "
                    + missing.joined(separator: ", ") + ".")
        }
        for (flag, path) in given {
            guard let path, access(path, R_OK) == 0 else {
                throw SecurityError("\(flag) \(path ?? ""): the file does not exist or is not readable.")
            }
        }
    }

    /// The command-line arguments that give a child process these settings with other
    /// certificate files (a nanny's workers use the nanny's).
    public var arguments: [String] {
        var arguments: [String] = []
        if let caFile { arguments += ["--tls-ca-file", caFile] }
        if let certificateFile { arguments += ["--tls-cert", certificateFile] }
        if let keyFile { arguments += ["--tls-key", keyFile] }
        if requireEncryption { arguments.append("--require-encryption") }
        return arguments
    }
}

/// A security setting that cannot work: a missing file, half of the TLS flags, TLS required
/// but not configured, or a `tls://` address without certificates.
public struct SecurityError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, as one sentence.
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
