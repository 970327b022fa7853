package io.quarkvm.service;

/** The client's If-Match names a version that is no longer current, or is a tag no version matches. */
public class StaleVersionException extends RuntimeException {

    StaleVersionException(String message) {
        super(message);
    }
}
