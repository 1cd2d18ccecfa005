import DroverCore
import DroverProto
import Foundation

// MARK: - Snapshots for the dashboard

extension SchedulerService {
    /// A picture of the cluster now, with the task executions numbered `cursor` or later.
    ///
    /// Counts every task by function and state, so callers share one snapshot among all their
    /// readers and take it a few times a second at most (the dashboard does).
    public func snapshot(taskStreamSince cursor: Int = 0) -> ClusterSnapshot {
        ClusterSnapshot(state: state, history: history, time: Self.wallClock(), taskStreamSince: cursor)
    }

    /// Seconds since 1970: the dashboard's clock (a browser's, too).
    static func wallClock() -> Double {
        Date().timeIntervalSince1970
    }

    /// Notes a finished task for the task stream, if the scheduler still knows its function.
    func recordExecution(_ finished: Drover_V1_TaskFinished, on worker: WorkerID, at now: Double) {
        let key = TaskKey(finished.key)
        guard let function = state.tasks[key]?.function else { return }
        history.taskExecuted(
            key, function: function, worker: worker, duration: finished.durationSeconds, arrivedAt: now)
    }
}

extension WorkerRecord.Transfers {
    init(_ heartbeat: Drover_V1_Heartbeat) {
        self.init(
            incomingCount: heartbeat.incomingTransfers, incomingBytes: heartbeat.incomingTransferBytes,
            incomingSeconds: heartbeat.incomingTransferSeconds, outgoingBytes: heartbeat.outgoingTransferBytes)
    }
}
