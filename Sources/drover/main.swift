import DroverCLI
import DroverCore

await DroverCommand.main(registry: .builtins)
