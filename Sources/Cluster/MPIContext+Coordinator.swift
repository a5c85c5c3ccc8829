import Foundation

extension MPIContext {
    /// Runs `body` on rank 0 only and broadcasts whether it succeeded. Collective.
    ///
    /// Returns body's value on rank 0 and nil on the other ranks. When body throws on rank 0, rank 0
    /// rethrows its error and every other rank throws `ClusterError.coordinatorFailed` with its text,
    /// so that all ranks stop together instead of waiting for work that never comes. Use it for steps
    /// such as opening the results journal that only rank 0 does.
    public func onCoordinator<Value>(_ body: () throws -> Value) throws -> Value? {
        var value: Value?
        var failure: Error?
        if isCoordinator {
            do {
                value = try body()
            } catch {
                failure = error
            }
        }

        // The status byte is 0 for success, or 1 followed by the error's text.
        var status: [UInt8] = [0]
        if let failure { status = [1] + Array(String(describing: failure).utf8) }
        let received = try broadcast(status, root: 0)

        if let failure { throw failure }
        if received.first == 1 {
            throw ClusterError.coordinatorFailed(String(decoding: received.dropFirst(), as: UTF8.self))
        }
        return value
    }
}
