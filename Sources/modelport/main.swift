import ModelPortCLI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

exit(ModelPortCommand.execute(Array(CommandLine.arguments.dropFirst())))
