package io.quarkvm.service;

import io.quarkvm.persistence.VmEntity;

import java.util.List;

public record VmPage(List<VmEntity> items, long total, int page, int size) {
    public static final int MAX_SIZE = 100;
    public static final int DEFAULT_SIZE = 20;
}
