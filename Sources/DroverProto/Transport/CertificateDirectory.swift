import Crypto
import Foundation
import SwiftASN1
import X509

/// What a certificate lets its holder do in a cluster; servers read it from the certificate's
/// subject alternative name `drover:role:<role>`.
public enum Role: String, Sendable, CaseIterable, CustomStringConvertible {
    case scheduler, worker, nanny, client

    /// The URI naming this role in a certificate.
    public var uri: String { "drover:role:\(rawValue)" }

    /// The role a `drover:role:<role>` URI names.
    public init?(uri: String) {
        guard uri.hasPrefix("drover:role:") else { return nil }
        self.init(rawValue: String(uri.dropFirst("drover:role:".count)))
    }

    public var description: String { rawValue }
}

/// A directory of certificates from one CA, as `drover certs create` writes it: `ca.pem` (and the
/// CA's key `ca-key.pem`), and for each role `<role>.pem` with its key `<role>-key.pem`.
///
/// Keys are written with mode 0600 and the directory is 0700; nothing is overwritten.
public struct CertificateDirectory: Sendable, Hashable {
    /// The directory.
    public let path: String

    /// The certificates in `path`.
    public init(path: String) {
        self.path = path
    }

    /// The CA's certificate.
    public var caFile: String { path + "/ca.pem" }

    /// The certificate of `role`.
    public func certificateFile(for role: Role) -> String { path + "/\(role).pem" }

    /// The private key of `role`'s certificate.
    public func keyFile(for role: Role) -> String { path + "/\(role)-key.pem" }

    /// Security settings for a process of `role`.
    public func security(for role: Role, requireEncryption: Bool = true) -> Security {
        Security(
            caFile: caFile, certificateFile: certificateFile(for: role), keyFile: keyFile(for: role),
            requireEncryption: requireEncryption)
    }

    /// Makes a CA and one certificate per role in `path` (created with mode 0700 if missing).
    ///
    /// Each role's certificate names its role (`drover:role:<role>`) and is valid for `hosts`,
    /// `localhost` and `127.0.0.1`, as server and as client.
    ///
    /// - Parameters:
    ///   - path: The directory; files already there are not overwritten.
    ///   - hosts: Host names or IPv4/IPv6 addresses the servers are reached at.
    ///   - validity: How long the certificates are valid.
    /// - Throws: ``SecurityError`` when a file exists or cannot be written.
    @discardableResult
    public static func create(
        at path: String, hosts: [String] = [], validity: Duration = .seconds(365 * 86_400)
    ) throws(SecurityError) -> CertificateDirectory {
        let directory = CertificateDirectory(path: path)
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw SecurityError("Cannot create the directory \(path): \(String(cString: strerror(errno))).")
        }
        do {
            let now = Date()
            let notBefore = now.addingTimeInterval(-300)
            let notAfter = now.addingTimeInterval(Double(validity.components.seconds))
            let caKey = P256.Signing.PrivateKey()
            let caName = try DistinguishedName {
                OrganizationName("Drover")
                CommonName("Drover cluster CA")
            }
            let ca = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: notBefore,
                notValidAfter: notAfter, issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: .init(caKey.publicKey))
                },
                issuerPrivateKey: .init(caKey))
            try write(ca.serializeAsPEM().pemString, to: directory.caFile, mode: 0o644)
            try write(caKey.pemRepresentation, to: path + "/ca-key.pem", mode: 0o600)
            let names = subjectAlternativeNames(hosts: hosts)
            for role in Role.allCases {
                let key = P256.Signing.PrivateKey()
                let subject = try DistinguishedName {
                    OrganizationName("Drover")
                    OrganizationalUnitName(role.rawValue)
                    CommonName("drover \(role)")
                }
                let certificate = try Certificate(
                    version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: notBefore,
                    notValidAfter: notAfter, issuer: caName, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                    extensions: try Certificate.Extensions {
                        Critical(BasicConstraints.notCertificateAuthority)
                        Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                        try ExtendedKeyUsage([.serverAuth, .clientAuth])
                        SubjectAlternativeNames(names + [.uniformResourceIdentifier(role.uri)])
                        AuthorityKeyIdentifier(
                            keyIdentifier: SubjectKeyIdentifier(hash: .init(caKey.publicKey)).keyIdentifier)
                    },
                    issuerPrivateKey: .init(caKey))
                try write(certificate.serializeAsPEM().pemString, to: directory.certificateFile(for: role), mode: 0o644)
                try write(key.pemRepresentation, to: directory.keyFile(for: role), mode: 0o600)
            }
        } catch let error as SecurityError {
            throw error
        } catch {
            throw SecurityError("Cannot make certificates in \(path): \(error).")
        }
        return directory
    }

    /// `localhost`, `127.0.0.1` and `hosts`, as DNS names or IP addresses.
    static func subjectAlternativeNames(hosts: [String]) -> [GeneralName] {
        var seen = Set<String>()
        var names: [GeneralName] = []
        for host in ["localhost", "127.0.0.1"] + hosts where seen.insert(host).inserted {
            var v4 = in_addr()
            var v6 = in6_addr()
            if inet_pton(AF_INET, host, &v4) == 1 {
                names.append(
                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice(withUnsafeBytes(of: &v4) { Array($0) }))))
            } else if inet_pton(AF_INET6, host, &v6) == 1 {
                names.append(
                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice(withUnsafeBytes(of: &v6) { Array($0) }))))
            } else {
                names.append(.dnsName(host))
            }
        }
        return names
    }

    /// Writes a new file (never an existing one, never through a link) with `mode`.
    static func write(_ text: String, to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw SecurityError("Cannot create \(path): \(String(cString: strerror(errno))) (nothing is overwritten).")
        }
        defer { close(fd) }
        fchmod(fd, mode)  // the umask may have taken bits away; never adds any for keys
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw SecurityError("Cannot write \(path): \(String(cString: strerror(errno))).") }
            written += count
        }
    }
}

extension Security {
    /// Throwaway certificates for a cluster on this machine (Dask's `Security.temporary()`): a new
    /// CA and one certificate per role in a private temporary directory, with the client's
    /// settings returned.
    ///
    /// - Throws: ``SecurityError`` when the directory or the files cannot be made.
    public static func temporary() throws(SecurityError) -> Security {
        let directory = try CertificateDirectory.create(at: PrivateDirectory(prefix: "drover-certs").path)
        return directory.security(for: .client)
    }

    /// The directory holding these certificates, when it is laid out as ``CertificateDirectory``
    /// (`ca.pem` beside `<role>.pem`), or nil.
    public var certificateDirectory: CertificateDirectory? {
        guard let caFile, caFile.hasSuffix("/ca.pem") else { return nil }
        return CertificateDirectory(path: String(caFile.dropLast("/ca.pem".count)))
    }

    /// These settings with `role`'s certificate from the same directory, when it has one
    /// (a nanny gives its workers the worker certificate beside its own); otherwise unchanged.
    public func forRole(_ role: Role) -> Security {
        guard let directory = certificateDirectory,
            access(directory.certificateFile(for: role), R_OK) == 0, access(directory.keyFile(for: role), R_OK) == 0
        else { return self }
        return directory.security(for: role, requireEncryption: requireEncryption)
    }
}
