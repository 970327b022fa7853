/** Something that makes the numbers meaningless: the request and the answer are printed, the bench stops. */
final class BenchFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BenchFailure(String message) {
        super(message);
    }
}
