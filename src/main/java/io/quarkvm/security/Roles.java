package io.quarkvm.security;

/** What a caller may do (README.md, "Authentication"); io.quarkvm.security.Credentials decides who has which. */
public final class Roles {

    /** Reads the API: GET and HEAD under /api/v1, the event stream included. */
    public static final String VIEWER = "viewer";
    /** Everything a viewer may, and every change. */
    public static final String OPERATOR = "operator";
    /**
     * Another node of the cluster, holding the cluster secret: for node-to-node calls (the migration stream), and
     * for nothing an operator does.
     */
    public static final String NODE = "node";

    private Roles() {
    }
}
