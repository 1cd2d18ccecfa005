/// A value could not be encoded or decoded.
public struct PayloadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case typeMismatch, malformed, unsupported
        }
        private let base: Base

        /// The payload holds another type than the one asked for.
        public static let typeMismatch = Code(base: .typeMismatch)
        /// The bytes do not decode as the type they claim to be.
        public static let malformed = Code(base: .malformed)
        /// The type cannot be encoded this way.
        public static let unsupported = Code(base: .unsupported)

        public var description: String {
            switch base {
            case .typeMismatch: "type mismatch"
            case .malformed: "malformed"
            case .unsupported: "unsupported"
            }
        }
    }

    public var code: Code
    public var message: String
    /// The type that was asked for.
    public var expectedType: String
    /// The type that was found, when known.
    public var actualType: String?

    public init(code: Code, message: String, expectedType: String, actualType: String? = nil) {
        self.code = code
        self.message = message
        self.expectedType = expectedType
        self.actualType = actualType
    }

    static func typeMismatch(expected: String, actual: String) -> PayloadError {
        PayloadError(
            code: .typeMismatch,
            message: "expected a value of type \(expected), got \(actual)",
            expectedType: expected,
            actualType: actual
        )
    }

    static func malformed(_ type: String, _ detail: String) -> PayloadError {
        PayloadError(code: .malformed, message: "cannot decode \(type): \(detail)", expectedType: type)
    }

    public var description: String { message }
}
