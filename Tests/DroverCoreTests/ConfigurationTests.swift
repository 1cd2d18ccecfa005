import DroverCore
import Testing

@Suite(.serialized) struct ConfigurationTests {
    @Test func defaultIsThreadsWithOneWorkerPerCore() {
        let configuration = Drover.Configuration()
        #expect(configuration.scheduler == .threads)
        #expect(configuration.workers == nil)
    }

    @Test func scopedConfigurationAppliesInsideOnly() async {
        let outside = Drover.config
        await Drover.withConfig(.scheduler(.singleThreaded, workers: 3)) {
            #expect(Drover.config.scheduler == .singleThreaded)
            #expect(Drover.config.workers == 3)
            await Task {
                // Child tasks inherit the scope.
                #expect(Drover.config.workers == 3)
            }.value
        }
        #expect(Drover.config == outside)
    }

    /// Like `dask.config.set`, a scope changes what it names and keeps the rest.
    @Test func aScopeMergesWhatItSetsIntoTheConfigurationInForce() async {
        await Drover.withConfig(.scheduler(.threads, workers: 4)) {
            await Drover.withConfig(.scheduler(.processes)) {
                #expect(Drover.config.scheduler == .processes)
                #expect(Drover.config.workers == 4)
            }
            await Drover.withConfig(.scheduler(.singleThreaded, workers: 1)) {
                #expect(Drover.config == .scheduler(.singleThreaded, workers: 1))
            }
        }
        #expect(Drover.Configuration(scheduler: .processes, workers: 3).merging(.scheduler(.threads)).workers == 3)
    }
}
