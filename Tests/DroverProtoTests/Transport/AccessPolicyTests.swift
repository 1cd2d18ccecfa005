import DroverProto
import GRPCCore
import Testing

@Suite struct AccessPolicyTests {
    /// Every method, and the roles that may call it; every other role is refused.
    static let expected: [(method: String, allowed: Set<Role>)] = [
        ("drover.v1.Scheduler/WorkerStream", [.worker]),
        ("drover.v1.Scheduler/ClientStream", [.client, .worker]),
        ("drover.v1.Scheduler/Identity", [.scheduler, .worker, .nanny, .client]),
        ("drover.v1.Scheduler/ReportWorkerExit", [.nanny]),
        ("drover.v1.Worker/GetData", [.worker, .client]),
        ("drover.v1.Worker/PutData", [.worker, .client]),
        ("drover.v1.Nanny/Status", [.client, .scheduler, .nanny]),
        ("drover.v1.Nanny/KillWorker", [.scheduler]),
        ("drover.v1.Nanny/Shutdown", [.scheduler]),
    ]

    @Test(arguments: expected.map(\.method))
    func eachRoleIsAllowedExactlyWhereTheTableSays(method: String) {
        let allowed = Self.expected.first { $0.method == method }!.allowed
        for role in Role.allCases {
            let decision = AccessPolicy.decide(roles: [role], method: method)
            #expect((decision == .allowed) == allowed.contains(role), "\(role) calling \(method)")
        }
    }

    @Test func theTableCoversEveryMethodAndNoOther() {
        #expect(Set(AccessPolicy.table.keys) == Set(Self.expected.map(\.method)))
    }

    /// A method added to a `.proto` without a line in the table would be refused to everyone under
    /// TLS (a client's `shutdown()` once was): every generated method must be in the table.
    @Test func everyMethodOfEveryServiceIsInTheTable() {
        let generated =
            Drover_V1_Scheduler.Method.descriptors + Drover_V1_Worker.Method.descriptors
            + Drover_V1_Nanny.Method.descriptors
        for descriptor in generated {
            #expect(AccessPolicy.table[descriptor.fullyQualifiedMethod] != nil, "\(descriptor) has no roles")
        }
    }

    @Test func aRefusalNamesTheRoleNeededAndTheRoleHeld() {
        #expect(
            AccessPolicy.decide(roles: [.client], method: "drover.v1.Scheduler/WorkerStream")
                == .refused("drover.v1.Scheduler/WorkerStream needs a worker certificate; the caller's names client."))
        #expect(
            AccessPolicy.decide(roles: [.worker], method: "drover.v1.Scheduler/ReportWorkerExit")
                == .refused(
                    "drover.v1.Scheduler/ReportWorkerExit needs a nanny certificate; the caller's names worker."))
    }

    @Test func aCertificateWithoutARoleOrAnUnknownMethodIsRefused() {
        #expect(AccessPolicy.decide(roles: [], method: "drover.v1.Scheduler/Identity") != .allowed)
        #expect(
            AccessPolicy.decide(roles: Set(Role.allCases), method: "drover.v1.Scheduler/Shutdown")
                == .refused("drover.v1.Scheduler/Shutdown is not a method any certificate may call."))
    }

    @Test func aCertificateWithSeveralRolesMayDoWhatAnyOfThemMay() {
        #expect(AccessPolicy.decide(roles: [.client, .worker], method: "drover.v1.Scheduler/WorkerStream") == .allowed)
    }

    @Test func rolesRoundTripThroughTheirURIs() {
        for role in Role.allCases { #expect(Role(uri: role.uri) == role) }
        #expect(Role(uri: "drover:role:admin") == nil)
        #expect(Role(uri: "spiffe://drover/worker") == nil)
    }
}
