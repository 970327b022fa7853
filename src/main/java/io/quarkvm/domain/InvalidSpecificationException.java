package io.quarkvm.domain;

/** A requested value breaks a rule of the model; {@link #field()} names the offending input (JSON path). */
public class InvalidSpecificationException extends RuntimeException {
    private final String field;

    public InvalidSpecificationException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
