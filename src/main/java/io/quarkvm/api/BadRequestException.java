package io.quarkvm.api;

/** A request the API cannot even read: a missing body, a query parameter or header that is not a number. */
public class BadRequestException extends RuntimeException {
    private final String field;

    public BadRequestException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
